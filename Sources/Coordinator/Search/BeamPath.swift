import Foundation
import Shared

/// One partial path of the search with everything its next step depends on. The greedy search keeps one; the beam
/// search keeps the best `beam` of them, each with its own head accumulators and generator, since a path's next
/// width step depends on that path's history alone.
public struct BeamPath: Codable, Equatable, Sendable {
    /// The current model relative to the original; `structure.path` is the steps taken.
    public var structure: PruningStructure
    /// Per current layer, the head units owed by the width steps (fractional; a whole unit waits when a step's
    /// budget could not pay for it).
    public var accumulators: [Double]
    /// The generator of the random criterion and the random selection.
    public var random: SeededRandom
    /// One record per step taken.
    public var records: [SearchRecord]
    /// The calibration objective of the current model (loss, or KL with selection `kl`); nil before the first step,
    /// and after a greedy step whose KL was not asked because it had no rival.
    public var objective: Double?
    /// What the beam ranks the path by: the objective, or with a lookahead the objective the greedy steps after
    /// this one reach.
    public var score: Double?

    enum CodingKeys: String, CodingKey {
        case structure, accumulators, records, objective, score
        case randomState = "random_state"
    }

    init(structure: PruningStructure, accumulators: [Double], random: SeededRandom, records: [SearchRecord],
         objective: Double? = nil, score: Double? = nil) {
        self.structure = structure
        self.accumulators = accumulators
        self.random = random
        self.records = records
        self.objective = objective
        self.score = score
    }

    /// The path of no steps: the original model.
    static func start(original: ModelConfig, seed: UInt64) -> BeamPath {
        BeamPath(structure: .identity(original), accumulators: [Double](repeating: 0, count: original.layers.count),
                 random: SeededRandom(seed: seed), records: [])
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        structure = try c.decode(PruningStructure.self, forKey: .structure)
        accumulators = try c.decode([Double].self, forKey: .accumulators)
        records = try c.decode([SearchRecord].self, forKey: .records)
        objective = try c.decodeIfPresent(Double.self, forKey: .objective)
        score = try c.decodeIfPresent(Double.self, forKey: .score)
        let state = try c.decode(String.self, forKey: .randomState)
        guard state.count == 16, let value = UInt64(state, radix: 16) else {
            throw MopError(CoordinatorJSON.keyPath(decoder.codingPath + [CodingKeys.randomState])
                           + " \"\(state)\" is not 16 hex digits")
        }
        random = SeededRandom(seed: value)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(structure, forKey: .structure)
        try c.encode(accumulators, forKey: .accumulators)
        try c.encode(records, forKey: .records)
        try c.encodeIfPresent(objective, forKey: .objective)
        try c.encodeIfPresent(score, forKey: .score)
        try c.encode(randomState, forKey: .randomState)
    }

    /// `random.state` as 16 hex digits (a JSON number would lose bits above 2^53 in many readers).
    var randomState: String { String(random.state, radix: 16).leftPadded(to: 16) }

    /// Consistency that needs no model (the model is checked when the search resumes); `label` names the path in
    /// the file, empty for the one stored at the top level.
    func check(file: String, label: String) throws {
        func fail(_ problem: String) -> MopError { MopError(file: file, label + problem) }
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
        for (name, value) in [("objective", objective), ("score", score)] {
            if let value, !value.isFinite { throw fail("\(name) \(value) is not finite") }
        }
    }
}
