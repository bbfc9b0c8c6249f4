import Foundation
import Shared

/// Where the search is, for a progress line on stderr (the library never prints).
public struct SearchProgress: Sendable {
    /// Iterations completed.
    public var iteration: Int
    /// The step just taken, "L" or "G".
    public var branch: String
    public var compression: Double
    /// With a latency target: the predicted latency over the dense model's.
    public var predictedLatency: Double?
    /// The target as the settings state it: a compression, or a latency ratio.
    public var target: Double
    /// Seconds of all iterations so far (a resumed run counts those before the interruption).
    public var elapsed: Double
    /// Estimated seconds left, from the compression rate so far; nil before any progress.
    public var eta: Double?

    /// A one-line summary such as `iteration 3 (G): compression 24.1% of 40.0%, 12.3 s elapsed, ETA 8.0 s`, or
    /// with a latency target `iteration 3 (G): compression 24.1%, predicted latency 81.0% of dense (target 60.0%), ...`.
    public var line: String {
        var text = String(format: "iteration %ld (%@): compression %.1f%%", iteration, branch, compression * 100)
        if let predictedLatency {
            text += String(format: ", predicted latency %.1f%% of dense (target %.1f%%)", predictedLatency * 100, target * 100)
        } else {
            text += String(format: " of %.1f%%", target * 100)
        }
        text += String(format: ", %.1f s elapsed", elapsed)
        if let eta { text += String(format: ", ETA %.1f s", eta) }
        return text
    }
}

/// The outcome of a search.
public struct SearchResult: Sendable {
    public var settings: PruneSettings
    /// The pruned model relative to the original; its `path` is the steps taken.
    public var structure: PruningStructure
    /// The steps of `structure`'s path.
    public var records: [SearchRecord]
    /// The beam search's iterations, every kept path in each (empty for the greedy search).
    public var beam: [BeamIteration]
    public var originalParameters: Int
    public var originalNonEmbeddingParameters: Int
    public var parameters: Int
    public var nonEmbeddingParameters: Int
    /// False when the run stopped at `maxIterations` before reaching the target.
    public var finished: Bool

    /// 1 - P/P0 over all parameters (a tied embedding once).
    public var compression: Double { 1 - Double(parameters) / Double(originalParameters) }
    /// 1 - P/P0 over non-embedding parameters.
    public var nonEmbeddingCompression: Double { 1 - Double(nonEmbeddingParameters) / Double(originalNonEmbeddingParameters) }
    /// Wall time of all iterations.
    public var seconds: Double { Self.seconds(records: records, beam: beam) }

    /// A beam's iterations cover all its paths, a path's records only the iterations that made it.
    static func seconds(records: [SearchRecord], beam: [BeamIteration]) -> Double {
        beam.isEmpty ? records.reduce(0) { $0 + $1.seconds } : beam.reduce(0) { $0 + $1.seconds }
    }
}

/// The MoP search loop (docs/design.md#mop-search). Each iteration expands every kept path into a depth candidate (one
/// block by the depth rule) and a width candidate (AMP removing about as many parameters, scores recomputed on that
/// path's model), scores them through the workers, keeps the best `beam` distinct paths (one: the greedy search) and
/// checkpoints. The step that would overshoot the target becomes a width step of exactly the remaining budget, so
/// every path ends within 0.5 percentage point of the target; the search returns the finished path with the best
/// objective.
public final class MoPSearch {
    /// The final compression may fall short of or pass the target by this much (0.5 percentage point).
    public static let tolerance = 0.005

    public let settings: PruneSettings
    public let original: ModelConfig
    private let goal: SearchGoal
    private let outputDirectory: String?
    /// Recorded in every checkpoint and required of the one resumed (nil: neither).
    private let inputs: SearchInputs?
    private let expander: PathExpander
    private let progress: (SearchProgress) -> Void

    /// `scorer` reaches the workers; `latency` predicts a latency target (measured on this machine); `outputDirectory`,
    /// when given, receives `checkpoint.json` after every iteration, with `inputs`; `progress` is called after every
    /// iteration.
    public init(settings: PruneSettings, original: ModelConfig, latency: LatencyModel? = nil, outputDirectory: String?,
                inputs: SearchInputs? = nil, scorer: CandidateScorer, progress: @escaping (SearchProgress) -> Void = { _ in }) {
        self.settings = settings
        self.original = original
        goal = SearchGoal(settings: settings, original: original, latency: latency)
        self.outputDirectory = outputDirectory
        self.inputs = inputs
        expander = PathExpander(settings: settings, goal: goal, scorer: scorer)
        self.progress = progress
    }

    /// `score` asks the workers one question and returns the answer summed over ranks.
    public convenience init(settings: PruneSettings, original: ModelConfig, latency: LatencyModel? = nil,
                            outputDirectory: String?, score: @escaping (ScoringRequest) throws -> [Double],
                            progress: @escaping (SearchProgress) -> Void = { _ in }) {
        self.init(settings: settings, original: original, latency: latency, outputDirectory: outputDirectory,
                  scorer: CandidateScorer(score), progress: progress)
    }

    /// The mutable state of a run; exactly what a checkpoint holds.
    struct State {
        /// Best first.
        var paths: [BeamPath]
        var beam: [BeamIteration]

        /// Iterations done: the last one made every unfinished path, finished ones may be older.
        var iterations: Int { paths.map(\.records.count).max() ?? 0 }
    }

    /// Runs the search from the original model, or from the checkpoint in `resumeDirectory`, until every kept path
    /// meets the target or `maxIterations` iterations (counted from the original model) are done.
    public func run(resumingFrom resumeDirectory: String? = nil, maxIterations: Int? = nil) throws -> SearchResult {
        guard settings.targetLatency == nil || goal.latency != nil else {
            throw MopError("a latency target needs a latency model measured on this machine")
        }
        try goal.checkReachable(settings)
        var state = try resumeDirectory.map(resumedState)
            ?? State(paths: [.start(original: original, seed: settings.seed)], beam: [])
        var finished = state.paths.allSatisfy(expander.isFinished)
        while !finished, state.iterations < (maxIterations ?? .max) {
            try iterate(&state)
            if let outputDirectory {
                try SearchCheckpoint(settings: settings, originalParameters: original.parameters, paths: state.paths,
                                     beam: state.beam, inputs: inputs).write(directory: outputDirectory)
            }
            finished = state.paths.allSatisfy(expander.isFinished)
            report(state)
        }
        // An interrupted search returns the path it ranks first.
        let best = (finished ? BeamSelection.winner(state.paths) : nil) ?? state.paths[0]
        let config = best.structure.config(of: original)
        return SearchResult(settings: settings, structure: best.structure, records: best.records, beam: state.beam,
                            originalParameters: original.parameters,
                            originalNonEmbeddingParameters: original.nonEmbeddingParameters,
                            parameters: config.parameters, nonEmbeddingParameters: config.nonEmbeddingParameters,
                            finished: finished)
    }

    private func resumedState(_ directory: String) throws -> State {
        let checkpoint = try SearchCheckpoint.load(directory: directory)
        let file = SearchCheckpoint.path(in: directory)
        let differences = checkpoint.settings.differences(from: settings)
        guard differences.isEmpty else {
            throw MopError(file: file, "was written with other settings (checkpoint vs requested: "
                           + differences.joined(separator: ", ") + "); resume with the same settings or a new output directory")
        }
        guard checkpoint.originalParameters == original.parameters else {
            throw MopError(file: file, "was written for a model of \(checkpoint.originalParameters) parameters, "
                           + "this model has \(original.parameters)")
        }
        if let inputs { try checkpoint.requireSameInputs(inputs, file: file) }
        for path in checkpoint.paths { try path.structure.validate(against: original, file: file) }
        return State(paths: checkpoint.paths, beam: checkpoint.beam)
    }

    private func report(_ state: State) {
        guard let last = state.paths[0].records.last else { return }
        let elapsed = SearchResult.seconds(records: state.paths[0].records, beam: state.beam)
        // Progress in the target's own measure: the fraction of it removed so far against the fraction to remove.
        let removed = 1 - goal.ratio(state.paths[0].structure.config(of: original)), toRemove = 1 - goal.keptFraction
        let eta = removed > 0 ? elapsed / removed * max(toRemove - removed, 0) : nil
        progress(SearchProgress(iteration: state.iterations, branch: last.branch, compression: last.compression,
                                predictedLatency: last.predictedLatency,
                                target: settings.targetLatency ?? settings.target ?? 0, elapsed: elapsed, eta: eta))
    }

    // MARK: One iteration

    private func iterate(_ state: inout State) throws {
        let start = Date()
        let iteration = state.iterations + 1
        var expansions = try expander.expand(state.paths.filter { !expander.isFinished($0) })
        if settings.lookahead > 0 {
            try Lookahead(steps: settings.lookahead, expander: expander).score(&expansions)
        }
        let selected: (kept: [BeamPath], duplicates: Int)
        switch settings.selection {
        case .loss, .kl:
            // Finished paths take no more steps but keep their place while nothing better displaces them.
            let children = try expansions.flatMap { try $0.children(goal: goal, selection: settings.selection) }
            selected = BeamSelection.keep(state.paths.filter(expander.isFinished) + children, width: settings.beam)
        case .random, .path:
            // Settings validation keeps these rules to the greedy search: one path, one expansion.
            selected = ([try ruleChoice(expansions[0])], 0)
        }
        var kept = selected.kept
        let seconds = Date().timeIntervalSince(start)
        for index in kept.indices where kept[index].records.count == iteration {
            let before = kept[index].records.dropLast().last?.parameters ?? original.parameters
            guard kept[index].records[iteration - 1].parameters < before else {
                throw MopError("the search cannot reach the target \(settings.targetDescription): the last step removed nothing "
                               + "(\(before) parameters left, one head unit and one neuron must stay in each layer)")
            }
            kept[index].records[iteration - 1].seconds = seconds
        }
        state.paths = kept
        if settings.beam > 1 {
            state.beam.append(BeamIteration(
                iteration: iteration, candidates: expansions.reduce(0) { $0 + $1.candidates.count },
                duplicates: selected.duplicates, kept: kept.map { reported($0) }, seconds: seconds))
        }
    }

    /// The child the `random` or `path` selection takes; these rules choose a step, they rank no paths.
    private func ruleChoice(_ expansion: PathExpansion) throws -> BeamPath {
        var random = expansion.random
        var chosen = expansion.candidates[0]
        if expansion.candidates.count == 2 {
            let takeDepth: Bool
            if settings.selection == .random {
                takeDepth = random.next() & 1 == 0
            } else {
                let index = expansion.parent.structure.path.count
                takeDepth = index < settings.path.count
                    && settings.path[settings.path.index(settings.path.startIndex, offsetBy: index)] == "L"
            }
            chosen = expansion.candidates[takeDepth ? 0 : 1]
        }
        return try expansion.child(chosen, random: random, goal: goal, selection: settings.selection)
    }

    private func reported(_ path: BeamPath) -> BeamIteration.KeptPath {
        BeamIteration.KeptPath(path: path.structure.path, objective: path.objective, score: path.score,
                               compression: path.records.last?.compression ?? 0, finished: expander.isFinished(path))
    }
}
