import Foundation
import Shared

/// Everything that decides the outcome of a pruning run (docs/design.md#amp-width-pruning, docs/design.md#depth-pruning
/// and docs/design.md#mop-search). A checkpoint stores them, and `--resume` is only allowed with equal settings, since
/// any difference would change the path.
public struct PruneSettings: Codable, Equatable, Sendable {
    /// Which steps the search may take.
    public enum Method: String, Codable, CaseIterable, Sendable {
        /// The MoP path: depth or width at every iteration, chosen by `Selection`.
        case mop
        /// Depth steps only (a final width step lands on the target).
        case depth
        /// Width steps only, AMP scores recomputed at each step.
        case width
        /// One-shot AMP to the target (the AMP paper).
        case amp
    }

    /// How the MoP search picks between its depth and width candidates.
    public enum Selection: String, Codable, CaseIterable, Sendable {
        /// Lower mean next-token NLL on the calibration set.
        case loss
        /// Lower KL(dense original || candidate) per token.
        case kl
        /// A seeded coin.
        case random
        /// A fixed string of L and G.
        case path
    }

    /// Which heads and neurons a width step removes first.
    public enum Criterion: String, Codable, CaseIterable, Sendable {
        /// Lowest AMP scores first.
        case amp
        /// Highest AMP scores first (ablation).
        case reversed
        /// Seeded random order (ablation).
        case random
    }

    /// Which block a depth step removes.
    public enum DepthRule: String, Codable, CaseIterable, Sendable {
        /// Smallest block influence, mean 1 - cos(block input, block output) (ShortGPT).
        case similarity
        /// Always the third-to-last block (the MoP reference code).
        case position
        /// The block whose removal gives the lowest calibration loss.
        case loss
    }

    /// The head unit of GQA layers.
    public enum GQAUnit: String, Codable, CaseIterable, Sendable {
        /// One query head from every KV group at once; KV heads stay.
        case query
        /// A whole KV group: its query heads and its K and V heads.
        case group
    }

    /// Which calibration tokens score a candidate (docs/design.md#cross-fitted-scoring).
    public enum CandidateScoring: String, Codable, CaseIterable, Sendable {
        /// The calibration set is split into `crossFitFolds` interleaved folds; for each fold a candidate is built
        /// from the other folds (AMP statistics, block influence) and scored on that fold, its score the mean over all
        /// folds' tokens: the candidate's effect on text its choice did not see. The step taken is built from the
        /// whole set.
        case crossFit = "cross-fit"
        /// Built and scored on the same, whole calibration set (the papers' way).
        case inSample = "in-sample"
    }

    /// Target compression R in (0, 1): the final model keeps (1 - R) of the original parameters; nil when the
    /// target is a latency.
    public var target: Double?
    /// Target generation latency as a fraction of the dense model's, in (0, 1), as a `LatencyModel` measured on the
    /// machine predicts it; nil when the target is a compression.
    public var targetLatency: Double?
    public var method: Method
    public var selection: Selection
    /// The steps to follow when `selection` is `path` (L and G); empty otherwise.
    public var path: String
    public var criterion: Criterion
    public var depthRule: DepthRule
    public var gqaUnit: GQAUnit
    /// Seeds the random selection and the random criterion.
    public var seed: UInt64
    /// Partial paths the search keeps (1: the greedy search).
    public var beam: Int
    /// Greedy steps taken after each candidate before it is scored (0: the candidate's own objective).
    public var lookahead: Int
    public var candidateScoring: CandidateScoring
    /// Folds of the cross-fitted scoring (at least 2): each candidate is built from (k - 1)/k of the set, so more
    /// folds build the scored candidates closer to the step taken, at no more forward passes.
    public var crossFitFolds: Int

    enum CodingKeys: String, CodingKey {
        case target, method, selection, path, criterion, seed, beam, lookahead
        case candidateScoring = "candidate_scoring"
        case crossFitFolds = "cross_fit_folds"
        case targetLatency = "target_latency"
        case depthRule = "depth_rule"
        case gqaUnit = "gqa_unit"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        target = try c.decodeIfPresent(Double.self, forKey: .target)
        targetLatency = try c.decodeIfPresent(Double.self, forKey: .targetLatency)
        method = try c.decode(Method.self, forKey: .method)
        selection = try c.decode(Selection.self, forKey: .selection)
        path = try c.decode(String.self, forKey: .path)
        criterion = try c.decode(Criterion.self, forKey: .criterion)
        depthRule = try c.decode(DepthRule.self, forKey: .depthRule)
        gqaUnit = try c.decode(GQAUnit.self, forKey: .gqaUnit)
        // Absent in files written before the beam search: those ran the greedy search.
        beam = try c.decodeIfPresent(Int.self, forKey: .beam) ?? 1
        lookahead = try c.decodeIfPresent(Int.self, forKey: .lookahead) ?? 0
        // Absent in files written before cross-fitting: those scored in sample.
        candidateScoring = try c.decodeIfPresent(CandidateScoring.self, forKey: .candidateScoring) ?? .inSample
        // Absent in files written before k folds: those split in halves.
        crossFitFolds = try c.decodeIfPresent(Int.self, forKey: .crossFitFolds) ?? 2
        // Foundation reports a number that does not fit a UInt64 (-1, 1.5) as "not valid JSON" with no key; the
        // seed is the checkpoint's only UInt64, so it is read here with an error that names it.
        guard c.contains(.seed) else { seed = try c.decode(UInt64.self, forKey: .seed); return }
        guard let value = try? c.decode(UInt64.self, forKey: .seed) else {
            throw DecodingError.dataCorruptedError(forKey: .seed, in: c, debugDescription: "must be an integer in 0...\(UInt64.max)")
        }
        seed = value
    }

    /// The beam and lookahead are written only when they are not the greedy search's, and the candidate scoring only
    /// when it is not in-sample, so such a run's checkpoint and report read the same as before they existed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(target, forKey: .target)
        try c.encodeIfPresent(targetLatency, forKey: .targetLatency)
        try c.encode(method, forKey: .method)
        try c.encode(selection, forKey: .selection)
        try c.encode(path, forKey: .path)
        try c.encode(criterion, forKey: .criterion)
        try c.encode(depthRule, forKey: .depthRule)
        try c.encode(gqaUnit, forKey: .gqaUnit)
        try c.encode(seed, forKey: .seed)
        if beam != 1 { try c.encode(beam, forKey: .beam) }
        if lookahead != 0 { try c.encode(lookahead, forKey: .lookahead) }
        if candidateScoring != .inSample { try c.encode(candidateScoring, forKey: .candidateScoring) }
        if candidateScoring == .crossFit && crossFitFolds != 2 { try c.encode(crossFitFolds, forKey: .crossFitFolds) }
    }

    /// Validated settings; a target outside (0, 1), both targets or none, or a bad path is a `MopError`.
    public init(target: Double? = nil, targetLatency: Double? = nil, method: Method = .mop, selection: Selection = .loss, path: String = "",
                criterion: Criterion = .amp, depthRule: DepthRule = .similarity, gqaUnit: GQAUnit = .query,
                seed: UInt64 = 0, beam: Int = 1, lookahead: Int = 0, candidateScoring: CandidateScoring = .crossFit,
                crossFitFolds: Int = 2) throws {
        self.target = target
        self.targetLatency = targetLatency
        self.method = method
        self.selection = selection
        self.path = path
        self.criterion = criterion
        self.depthRule = depthRule
        self.gqaUnit = gqaUnit
        self.seed = seed
        self.beam = beam
        self.lookahead = lookahead
        self.candidateScoring = candidateScoring
        self.crossFitFolds = crossFitFolds
        try validate()
    }

    /// The target in words, for messages: `compression 0.2` or `latency 0.6 of the dense model's`.
    public var targetDescription: String {
        targetLatency.map { "latency \($0) of the dense model's" } ?? "compression \(target ?? 0)"
    }

    /// The calibration folds each scored candidate is built from, and the fold it is scored on (nil: the whole set).
    var candidateFolds: [(built: [CalibrationFold?], scored: CalibrationFold?)] {
        switch candidateScoring {
        case .crossFit: CalibrationFold.all(crossFitFolds).map { ($0.others, $0) }
        case .inSample: [([nil], nil)]
        }
    }

    /// The folds whose statistics, added, are the whole set's.
    var wholeSet: [CalibrationFold?] {
        candidateScoring == .crossFit ? CalibrationFold.all(crossFitFolds) : [nil]
    }

    /// True when the search is the greedy one: one path, each step chosen by its own objective.
    public var isGreedy: Bool { beam == 1 && lookahead == 0 }

    /// Checks the target, the path, the beam and the lookahead; `file` names where the settings came from (a checkpoint), nil for the
    /// command line.
    public func validate(file: String? = nil) throws {
        switch (target, targetLatency) {
        case let (target?, nil):
            guard target > 0, target < 1, target.isFinite else {
                throw MopError(file: file, "target \(target) is outside (0, 1): it is the fraction of parameters to remove")
            }
        case let (nil, latency?):
            guard latency > 0, latency < 1, latency.isFinite else {
                throw MopError(file: file, "target latency \(latency) is outside (0, 1): it is the fraction of the dense "
                               + "model's generation latency to reach")
            }
        case (nil, nil): throw MopError(file: file, "no target: give a compression target or a latency target")
        case (_?, _?): throw MopError(file: file, "both a compression target and a latency target: give one")
        }
        if let bad = path.first(where: { !PruningStructure.stepCharacters.contains($0) }) {
            throw MopError(file: file, "path \"\(path)\" has the character \"\(bad)\"; only L and G are steps")
        }
        if selection == .path && path.isEmpty {
            throw MopError(file: file, "selection path needs a path of L and G steps, such as LGGL")
        }
        if selection != .path && !path.isEmpty {
            throw MopError(file: file, "a path \"\(path)\" is given but the selection is \(selection.rawValue), not path")
        }
        guard crossFitFolds >= 2 else {
            throw MopError(file: file, "cross-fit folds \(crossFitFolds): a cross-fitted search needs at least 2 (a candidate is "
                           + "built from the other folds and scored on its own)")
        }
        guard beam >= 1 else {
            throw MopError(file: file, "beam \(beam) keeps no path: it must be at least 1 (1 is the greedy search)")
        }
        guard lookahead >= 0 else {
            throw MopError(file: file, "lookahead \(lookahead) is negative: it counts the greedy steps scored after each "
                           + "candidate (0 scores the step alone)")
        }
        guard isGreedy || method == .mop else {
            throw MopError(file: file, "beam \(beam) and lookahead \(lookahead) choose between depth and width steps: "
                           + "they need method mop, not \(method.rawValue)")
        }
        guard isGreedy || selection == .loss || selection == .kl else {
            throw MopError(file: file, "beam \(beam) and lookahead \(lookahead) rank paths by the calibration objective: "
                           + "they need selection loss or kl, not \(selection.rawValue)")
        }
    }

    /// How a finished `path` selection's `taken` path departs from the given one, in words, or nil when it followed
    /// it exactly. The search stops at the target whatever steps are left, goes on with width steps past the path's
    /// end, and takes the other step where the path's has no candidate (no block left to remove, say).
    public func pathDeparture(taken: String) -> String? {
        guard selection == .path, taken != path else { return nil }
        if path.hasPrefix(taken) {
            return "the target was reached after \(taken.count) of the \(path.count) steps of --path \(path); the rest were not taken"
        }
        if taken.hasPrefix(path) {
            return "--path \(path) ended after \(path.count) step\(path.count == 1 ? "" : "s") short of the target; the search went on with width "
                + "steps: \(taken)"
        }
        let step = zip(taken, path).prefix { $0 == $1 }.count
        let asked = Array(path)[step], took = Array(taken)[step]
        func name(_ step: Character) -> String { step == "L" ? "depth" : "width" }
        return "step \(step + 1) of --path \(path) asked for \(name(asked)), but only a \(name(took)) step could be "
            + "taken there: \(taken)"
    }

    /// The settings that differ between `self` and `other`, as `name: mine vs theirs`, for resume errors.
    func differences(from other: PruneSettings) -> [String] {
        var out: [String] = []
        func compare<T: Equatable>(_ name: String, _ a: T, _ b: T) { if a != b { out.append("\(name) \(a) vs \(b)") } }
        compare("target", target.map { "\($0)" } ?? "none", other.target.map { "\($0)" } ?? "none")
        compare("target_latency", targetLatency.map { "\($0)" } ?? "none", other.targetLatency.map { "\($0)" } ?? "none")
        compare("method", method.rawValue, other.method.rawValue)
        compare("selection", selection.rawValue, other.selection.rawValue)
        compare("path", path, other.path)
        compare("criterion", criterion.rawValue, other.criterion.rawValue)
        compare("depth_rule", depthRule.rawValue, other.depthRule.rawValue)
        compare("gqa_unit", gqaUnit.rawValue, other.gqaUnit.rawValue)
        compare("seed", seed, other.seed)
        compare("beam", beam, other.beam)
        compare("lookahead", lookahead, other.lookahead)
        compare("candidate_scoring", candidateScoring.rawValue, other.candidateScoring.rawValue)
        compare("cross_fit_folds", crossFitFolds, other.crossFitFolds)
        return out
    }
}
