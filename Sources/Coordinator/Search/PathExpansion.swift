import Foundation
import Shared

/// A step as the search scores it: built from the statistics of the calibration folds other than `fold` and scored
/// on `fold` (nil: built from and scored on the whole set).
struct ScoredStep {
    var step: PruningStructure
    var fold: CalibrationFold?
}

/// A step one path could take, scored.
struct StepCandidate {
    /// "L" (depth) or "G" (width).
    var branch: String
    /// The step over the path's current model: the one taken if the candidate wins.
    var step: PruningStructure
    /// The path's head accumulators after the step.
    var accumulators: [Double]
    /// What its objective is measured on: the mean over these steps' folds' tokens (docs/design.md#cross-fitted-scoring).
    var scoring: [ScoredStep]
    /// Mean calibration NLL of the model after the step.
    var loss: Double?
    /// Mean KL(dense || model after the step), asked only for selection `kl`.
    var kl: Double?
    /// The objective after the greedy steps that follow this one (with a lookahead).
    var lookahead: Double?

    func objective(_ selection: PruneSettings.Selection) -> Double? { selection == .kl ? kl : loss }
}

/// One path's iteration: the depth and width steps it could take, and the paths each would make.
struct PathExpansion {
    var parent: BeamPath
    /// The depth step first, so that order alone prefers it on a tie as the greedy search does.
    var candidates: [StepCandidate]
    /// The generator after the width step was planned: every child continues from it.
    var random: SeededRandom
    /// Original index of the block the depth candidate removes.
    var depthBlock: Int?
    /// The parameters the width candidate was asked to remove.
    var widthBudget: Int?

    var depth: StepCandidate? { candidates.first { $0.branch == "L" } }
    var width: StepCandidate? { candidates.first { $0.branch == "G" } }

    /// The path every candidate makes, depth first, each scored by its lookahead or else its objective.
    func children(goal: SearchGoal, selection: PruneSettings.Selection) throws -> [BeamPath] {
        try candidates.map { try child($0, random: random, goal: goal, selection: selection) }
    }

    /// The path `candidate` makes, continuing with `random`; its record holds both candidates of the iteration.
    func child(_ candidate: StepCandidate, random: SeededRandom, goal: SearchGoal,
               selection: PruneSettings.Selection) throws -> BeamPath {
        let original = goal.original
        let structure = try parent.structure.composed(with: candidate.step)
        let after = structure.config(of: original)
        let record = SearchRecord(
            iteration: parent.records.count + 1, branch: candidate.branch, depthLoss: depth?.loss,
            widthLoss: width?.loss, depthKL: depth?.kl, widthKL: width?.kl, depthLookahead: depth?.lookahead,
            widthLookahead: width?.lookahead, depthBlock: depthBlock, widthBudget: widthBudget,
            parameters: after.parameters, nonEmbeddingParameters: after.nonEmbeddingParameters,
            compression: 1 - Double(after.parameters) / Double(original.parameters),
            nonEmbeddingCompression: 1 - Double(after.nonEmbeddingParameters) / Double(original.nonEmbeddingParameters),
            predictedLatency: goal.latency == nil ? nil : goal.ratio(after),
            // The iteration's wall time is known once every path of the beam has been expanded.
            seconds: 0)
        let objective = candidate.objective(selection)
        return BeamPath(structure: structure, accumulators: candidate.accumulators, random: random,
                        records: parent.records + [record], objective: objective,
                        score: candidate.lookahead ?? objective)
    }
}

extension [PathExpansion] {
    /// (expansion, candidate) index pairs of every candidate, in order: the order their questions are asked in.
    var candidateSlots: [(Int, Int)] { indices.flatMap { e in self[e].candidates.indices.map { (e, $0) } } }
}
