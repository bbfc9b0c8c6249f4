import Foundation
import Shared

/// The search state after an iteration (`checkpoint.json` in the output directory): everything the next
/// iteration depends on, so a resumed run ends exactly where an uninterrupted one would.
public struct SearchCheckpoint: Codable, Equatable, Sendable {
    public static let fileName = "checkpoint.json"
    public static let currentVersion = 1

    public var version: Int
    public var settings: PruneSettings
    /// Parameters of the original model, to refuse a checkpoint of another model.
    public var originalParameters: Int
    /// The current model relative to the original.
    public var structure: PruningStructure
    /// Per current layer, the head units owed by the width steps (fractional; a whole unit waits when a step's
    /// budget could not pay for it).
    public var accumulators: [Double]
    /// `SeededRandom.state` as 16 hex digits (a JSON number would lose bits above 2^53 in many readers).
    public var randomState: String
    public var records: [SearchRecord]

    enum CodingKeys: String, CodingKey {
        case version, settings, structure, accumulators, records
        case originalParameters = "original_parameters"
        case randomState = "random_state"
    }

    public init(settings: PruneSettings, originalParameters: Int, structure: PruningStructure, accumulators: [Double],
                random: SeededRandom, records: [SearchRecord]) {
        version = Self.currentVersion
        self.settings = settings
        self.originalParameters = originalParameters
        self.structure = structure
        self.accumulators = accumulators
        randomState = String(random.state, radix: 16).leftPadded(to: 16)
        self.records = records
    }

    /// The generator as it was after the checkpointed iteration.
    public var random: SeededRandom? { UInt64(randomState, radix: 16).map { SeededRandom(seed: $0) } }

    /// The checkpoint path inside `directory`.
    public static func path(in directory: String) -> String {
        (directory as NSString).appendingPathComponent(fileName)
    }

    /// Writes `checkpoint.json` into `directory` atomically.
    public func write(directory: String) throws {
        try AtomicFileWriter.write(CoordinatorJSON.encode(self), to: Self.path(in: directory))
    }

    /// Reads and checks `checkpoint.json` from `directory`; every problem is a `MopError` naming the file.
    public static func load(directory: String) throws -> SearchCheckpoint {
        let file = path(in: directory)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw MopError(file: file, "cannot read the checkpoint (is this the output directory of an interrupted run?)")
        }
        let checkpoint = try CoordinatorJSON.decode(SearchCheckpoint.self, from: data, file: file)
        try checkpoint.check(file: file)
        return checkpoint
    }

    /// Consistency that needs no model: the model itself is checked when the search resumes.
    func check(file: String) throws {
        func fail(_ problem: String) -> MopError { MopError(file: file, problem) }
        guard version == Self.currentVersion else { throw fail("version \(version) is not supported (only \(Self.currentVersion))") }
        try settings.validate(file: file)
        guard randomState.count == 16, random != nil else { throw fail("random_state \"\(randomState)\" is not 16 hex digits") }
        guard accumulators.count == structure.layers.count else {
            throw fail("\(accumulators.count) accumulators for \(structure.layers.count) layers")
        }
        guard accumulators.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw fail("accumulators must be finite and non-negative, found \(accumulators)")
        }
        guard records.count == structure.path.count else {
            throw fail("\(records.count) iteration records for a path of \(structure.path.count) steps")
        }
        for (position, (record, step)) in zip(records, structure.path).enumerated()
        where record.iteration != position + 1 || record.branch != String(step) {
            throw fail("records[\(position)] is iteration \(record.iteration) step \(record.branch), "
                       + "expected iteration \(position + 1) step \(step) of the path \(structure.path)")
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
