import Foundation
import Shared

/// The search state after an iteration (`checkpoint.json` in the output directory): everything the next
/// iteration depends on, so a resumed run ends exactly where an uninterrupted one would.
///
/// The best kept path is stored at the top level, where version 1 (the greedy search, one path) stored its only
/// path; a beam's other paths follow under `other_paths`, and its per-iteration report under `beam`.
public struct SearchCheckpoint: Codable, Equatable, Sendable {
    public static let fileName = "checkpoint.json"
    public static let currentVersion = 2
    /// Version 1 is a greedy search's checkpoint, which reads as a beam of one path.
    static let readableVersions = 1...currentVersion

    public var version: Int
    public var settings: PruneSettings
    /// Parameters of the original model, to refuse a checkpoint of another model.
    public var originalParameters: Int
    /// The kept paths, best first; never empty.
    public var paths: [BeamPath]
    /// The beam search's iterations so far (empty for the greedy search).
    public var beam: [BeamIteration]
    /// The model and calibration sequences the search ran on; nil in checkpoints of a mop that did not record them.
    public var inputs: SearchInputs?

    enum CodingKeys: String, CodingKey {
        case version, settings, beam, inputs
        case originalParameters = "original_parameters"
        case otherPaths = "other_paths"
    }

    public init(settings: PruneSettings, originalParameters: Int, paths: [BeamPath], beam: [BeamIteration],
                inputs: SearchInputs? = nil) {
        version = Self.currentVersion
        self.settings = settings
        self.originalParameters = originalParameters
        self.paths = paths
        self.beam = beam
        self.inputs = inputs
    }

    /// The checkpoint of a search that keeps one path.
    public init(settings: PruneSettings, originalParameters: Int, structure: PruningStructure, accumulators: [Double],
                random: SeededRandom, records: [SearchRecord], inputs: SearchInputs? = nil) {
        self.init(settings: settings, originalParameters: originalParameters,
                  paths: [BeamPath(structure: structure, accumulators: accumulators, random: random, records: records)],
                  beam: [], inputs: inputs)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        settings = try c.decode(PruneSettings.self, forKey: .settings)
        originalParameters = try c.decode(Int.self, forKey: .originalParameters)
        paths = try [BeamPath(from: decoder)] + (c.decodeIfPresent([BeamPath].self, forKey: .otherPaths) ?? [])
        beam = try c.decodeIfPresent([BeamIteration].self, forKey: .beam) ?? []
        inputs = try c.decodeIfPresent(SearchInputs.self, forKey: .inputs)
    }

    public func encode(to encoder: any Encoder) throws {
        try paths[0].encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(settings, forKey: .settings)
        try c.encode(originalParameters, forKey: .originalParameters)
        if paths.count > 1 { try c.encode(Array(paths.dropFirst()), forKey: .otherPaths) }
        if !beam.isEmpty { try c.encode(beam, forKey: .beam) }
        try c.encodeIfPresent(inputs, forKey: .inputs)
    }

    /// The best kept path's model, accumulators, generator and records.
    public var structure: PruningStructure { paths[0].structure }
    public var accumulators: [Double] { paths[0].accumulators }
    public var random: SeededRandom { paths[0].random }
    public var randomState: String { paths[0].randomState }
    public var records: [SearchRecord] { paths[0].records }

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
        guard Self.readableVersions.contains(version) else {
            throw MopError(file: file, "version \(version) is not supported (only \(Self.readableVersions.lowerBound) "
                           + "to \(Self.readableVersions.upperBound))")
        }
        try settings.validate(file: file)
        guard paths.count <= settings.beam else {
            throw MopError(file: file, "holds \(paths.count) paths, more than the beam of \(settings.beam) keeps")
        }
        for (index, path) in paths.enumerated() {
            try path.check(file: file, label: index == 0 ? "" : "other_paths[\(index - 1)]: ")
        }
        try inputs?.check(file: file)
    }

    /// Refuses to resume on other `inputs` than the checkpoint's (a checkpoint without them is not checked: the
    /// caller warns). `file` names the checkpoint.
    public func requireSameInputs(_ given: SearchInputs, file: String) throws {
        guard let inputs else { return }
        let differences = inputs.differences(from: given)
        guard differences.isEmpty else {
            throw MopError(file: file, "was written for other inputs (checkpoint vs requested: "
                           + differences.joined(separator: ", ") + "); resume with the same model and calibration or a new output directory")
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
