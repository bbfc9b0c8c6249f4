import Foundation
import Shared

/// Builds the depth and width candidates of paths (docs/design.md#one-iteration) and scores them. The questions that
/// build a path's candidates (block influence, AMP statistics of that path's model) depend on the path; the scores of
/// all candidates of all paths are independent and are asked as one batch, which rank groups can deal out.
struct PathExpander {
    let settings: PruneSettings
    let goal: SearchGoal
    let scorer: CandidateScorer

    var original: ModelConfig { goal.original }

    /// True when `path` meets the target (within the tolerance) and takes no more steps.
    func isFinished(_ path: BeamPath) -> Bool {
        if settings.method == .amp && !path.records.isEmpty { return true }
        return goal.isMet(path.structure.config(of: original))
    }

    /// The candidates of every path, scored.
    func expand(_ paths: [BeamPath]) throws -> [PathExpansion] {
        try prefetch(paths)
        var expansions = try paths.map(plan)
        // Both losses are always asked, whatever the selection, so the report shows both branches. The greedy search
        // asks the KL only when there is a choice; a beam compares every path by it. Each is the mean over the
        // candidate's scoring folds.
        var groups: [[ScoringRequest]] = [], answers: [(slot: (Int, Int), isKL: Bool)] = [], batch: [ScoringRequest] = []
        for (e, c) in expansions.candidateSlots {
            let current = expansions[e].parent.structure, candidate = expansions[e].candidates[c]
            let losses = candidate.loss == nil ? candidate.scoring.map { ScoringRequest.loss(current: current, step: $0.step, fold: $0.fold) } : []
            let kls = settings.selection == .kl && (!settings.isGreedy || expansions[e].candidates.count == 2)
                ? candidate.scoring.map { ScoringRequest.klDivergence(current: current, step: $0.step, fold: $0.fold) } : []
            if !losses.isEmpty { groups.append(losses); answers.append(((e, c), false)) }
            if !kls.isEmpty { groups.append(kls); answers.append(((e, c), true)) }
            // A fold's loss and KL of a candidate are asked one after the other: a rank answers both from one pass.
            for index in candidate.scoring.indices {
                if index < losses.count { batch.append(losses[index]) }
                if index < kls.count { batch.append(kls[index]) }
            }
        }
        try scorer.prefetch(batch)
        for (answer, value) in zip(answers, try scorer.pooledMeans(groups)) {
            let (e, c) = answer.slot
            if answer.isKL { expansions[e].candidates[c].kl = value } else { expansions[e].candidates[c].loss = value }
        }
        return expansions
    }

    /// Asks the questions that build every path's candidates as one batch: each path's AMP statistics (for a width
    /// step) and block influence (for the similarity rule, when a block could go), on every fold a candidate is
    /// built from. `plan` then finds them answered. The AMP statistics come first: a worker measures the block
    /// influence in the same pass and answers it from there.
    private func prefetch(_ paths: [BeamPath]) throws {
        var requests: [ScoringRequest] = []
        for path in paths {
            let config = path.structure.config(of: original)
            if settings.method != .depth, goal.widthParameters(saving: 1, of: config) != nil {
                requests += settings.wholeSet.map { .ampStatistics(current: path.structure, fold: $0) }
            }
            if settings.method == .mop || settings.method == .depth, settings.depthRule == .similarity,
               config.layers.count > 1, config.layers.indices.contains(where: { goal.blockFits($0, of: config) }) {
                requests += settings.wholeSet.map { .blockInfluence(current: path.structure, fold: $0) }
            }
        }
        try scorer.prefetch(requests)
    }

    /// The unscored candidates of one path (a depth rule may have scored its own).
    private func plan(_ path: BeamPath) throws -> PathExpansion {
        let config = path.structure.config(of: original)
        let remaining = goal.remaining(config)
        var random = path.random
        var candidates: [StepCandidate] = []

        let depth = try depthChoice(path, config: config)
        if let depth {
            var accumulators = path.accumulators
            accumulators.remove(at: depth.block)
            // The choice of the folds a candidate is built from is scored on the fold they leave out. The scorer
            // remembers every answer (per fold), so these choices ask no new forward pass.
            let scoring = try settings.candidateFolds.map { folds in
                let block = try DepthPlanner.choose(rule: settings.depthRule, current: path.structure, config: config,
                                                    scorer: scorer, folds: folds.built)?.block ?? depth.block
                return ScoredStep(step: DepthPlanner.step(removing: block, from: config), fold: folds.scored)
            }
            candidates.append(StepCandidate(branch: "L", step: DepthPlanner.step(removing: depth.block, from: config),
                                            accumulators: accumulators, scoring: scoring))
        }
        var widthBudget: Int?
        if settings.method != .depth || depth == nil {
            // What the width step should save, in the goal's measure (parameters, or predicted seconds).
            let blockMeasure: Double = switch settings.method {
            case .mop: depth.map { goal.blockMeasure($0.block, of: config) } ?? remaining
            case .width: goal.averageBlockMeasure(config)
            case .depth, .amp: remaining
            }
            if let parameters = goal.widthParameters(saving: min(blockMeasure, remaining), of: config) {
                // At least one neuron, so a step close to a latency target still removes something.
                let budget = max(Int(parameters.rounded()), config.neuronParameters)
                func width(folds: [CalibrationFold?], random: inout SeededRandom) throws -> WidthStep {
                    let scores = try scorer.ampScores(current: path.structure, config: config, folds: folds)
                    return try WidthPlanner.plan(config: config, scores: scores, budget: budget,
                                                 criterion: settings.criterion, unit: settings.gqaUnit,
                                                 accumulators: path.accumulators, random: &random)
                }
                let taken = try width(folds: settings.wholeSet, random: &random)
                // The fold candidates draw from copies, so the step taken continues the path's own sequence.
                let scoring = try settings.candidateFolds.map { folds in
                    var copy = path.random
                    return ScoredStep(step: try width(folds: folds.built, random: &copy).step, fold: folds.scored)
                }
                candidates.append(StepCandidate(branch: "G", step: taken.step, accumulators: taken.accumulators,
                                                scoring: scoring))
                widthBudget = budget
            }
        }
        guard !candidates.isEmpty else {
            throw MopError("the search cannot reach the target \(settings.targetDescription): no block can be removed "
                           + "within the tolerance and the latency model gives heads and neurons no cost")
        }
        return PathExpansion(parent: path, candidates: candidates, random: random,
                             depthBlock: depth.map { path.structure.layers[$0.block].index }, widthBudget: widthBudget)
    }

    /// The depth candidate of `path`, or nil when the method takes no depth steps, one block is left, or removing
    /// the block would overshoot the target by more than the tolerance.
    private func depthChoice(_ path: BeamPath, config: ModelConfig) throws -> DepthChoice? {
        guard settings.method == .mop || settings.method == .depth, config.layers.count > 1 else { return nil }
        // Skip the depth rule's cost (a forward pass per block for `loss`) when no block could fit.
        let fits = { (block: Int) in goal.blockFits(block, of: config) }
        guard config.layers.indices.contains(where: fits) else { return nil }
        guard let choice = try DepthPlanner.choose(rule: settings.depthRule, current: path.structure, config: config,
                                                   scorer: scorer, folds: settings.wholeSet),
              fits(choice.block) else { return nil }
        return choice
    }
}
