import Foundation
import Shared

/// Where the search is, for a progress line on stderr (the library never prints).
public struct SearchProgress: Sendable {
    /// Iterations completed.
    public var iteration: Int
    /// The step just taken, "L" or "G".
    public var branch: String
    public var compression: Double
    public var target: Double
    /// Seconds of all iterations so far (a resumed run counts those before the interruption).
    public var elapsed: Double
    /// Estimated seconds left, from the compression rate so far; nil before any progress.
    public var eta: Double?

    /// A one-line summary such as `iteration 3 (G): compression 24.1% of 40.0%, 12.3 s elapsed, ETA 8.0 s`.
    public var line: String {
        var text = String(format: "iteration %d (%@): compression %.1f%% of %.1f%%, %.1f s elapsed", iteration, branch,
                          compression * 100, target * 100, elapsed)
        if let eta { text += String(format: ", ETA %.1f s", eta) }
        return text
    }
}

/// The outcome of a search.
public struct SearchResult: Sendable {
    public var settings: PruneSettings
    /// The pruned model relative to the original; its `path` is the steps taken.
    public var structure: PruningStructure
    public var records: [SearchRecord]
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
    public var seconds: Double { records.reduce(0) { $0 + $1.seconds } }
}

/// The MoP search loop (SPEC 6). Each iteration builds a depth candidate (one block by the depth rule) and a width
/// candidate (AMP removing about as many parameters, scores recomputed on the current model), scores them through
/// the workers, keeps one and checkpoints. The step that would overshoot the target becomes a width step of exactly
/// the remaining budget, so the search ends within 0.5 percentage point of the target.
public final class MoPSearch {
    /// The final compression may fall short of or pass the target by this much (0.5 percentage point).
    public static let tolerance = 0.005

    public let settings: PruneSettings
    public let original: ModelConfig
    private let outputDirectory: String?
    private let scorer: CandidateScorer
    private let progress: (SearchProgress) -> Void

    /// `score` asks the workers a question and returns the answer summed over ranks; `outputDirectory`, when
    /// given, receives `checkpoint.json` after every iteration; `progress` is called after every iteration.
    public init(settings: PruneSettings, original: ModelConfig, outputDirectory: String?,
                score: @escaping (ScoringRequest) throws -> [Double],
                progress: @escaping (SearchProgress) -> Void = { _ in }) {
        self.settings = settings
        self.original = original
        self.outputDirectory = outputDirectory
        scorer = CandidateScorer(score)
        self.progress = progress
    }

    /// The mutable state of a run; exactly what a checkpoint holds.
    struct State {
        var structure: PruningStructure
        var accumulators: [Double]
        var random: SeededRandom
        var records: [SearchRecord]
    }

    private var originalParameters: Int { original.parameters }
    private var targetParameters: Double { (1 - settings.target) * Double(originalParameters) }
    private var slack: Double { Self.tolerance * Double(originalParameters) }

    /// Runs the search from the original model, or from the checkpoint in `resumeDirectory`, until the target is
    /// met or `maxIterations` iterations (counted from the original model) are done.
    public func run(resumingFrom resumeDirectory: String? = nil, maxIterations: Int? = nil) throws -> SearchResult {
        var state = try resumeDirectory.map(resumedState) ?? State(
            structure: .identity(original), accumulators: [Double](repeating: 0, count: original.layers.count),
            random: SeededRandom(seed: settings.seed), records: [])
        var finished = isDone(state)
        while !finished, state.records.count < (maxIterations ?? .max) {
            try iterate(&state)
            if let outputDirectory {
                try SearchCheckpoint(settings: settings, originalParameters: originalParameters, structure: state.structure,
                                     accumulators: state.accumulators, random: state.random, records: state.records)
                    .write(directory: outputDirectory)
            }
            finished = isDone(state)
            report(state)
        }
        let config = state.structure.config(of: original)
        return SearchResult(settings: settings, structure: state.structure, records: state.records,
                            originalParameters: originalParameters,
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
        guard checkpoint.originalParameters == originalParameters else {
            throw MopError(file: file, "was written for a model of \(checkpoint.originalParameters) parameters, "
                           + "this model has \(originalParameters)")
        }
        try checkpoint.structure.validate(against: original, file: file)
        // `check` guaranteed a parseable random state.
        return State(structure: checkpoint.structure, accumulators: checkpoint.accumulators,
                     random: checkpoint.random ?? SeededRandom(seed: settings.seed), records: checkpoint.records)
    }

    private func isDone(_ state: State) -> Bool {
        if settings.method == .amp && !state.records.isEmpty { return true }
        let parameters = Double(state.structure.parameters(of: original))
        return 1 - parameters / Double(originalParameters) >= settings.target - Self.tolerance
    }

    private func report(_ state: State) {
        guard let last = state.records.last else { return }
        let elapsed = state.records.reduce(0) { $0 + $1.seconds }
        let eta = last.compression > 0 ? elapsed / last.compression * max(settings.target - last.compression, 0) : nil
        progress(SearchProgress(iteration: last.iteration, branch: last.branch, compression: last.compression,
                                target: settings.target, elapsed: elapsed, eta: eta))
    }

    // MARK: One iteration

    private func iterate(_ state: inout State) throws {
        let start = Date()
        let config = state.structure.config(of: original)
        let parameters = config.parameters
        let remaining = Double(parameters) - targetParameters

        let depth = try depthCandidate(state, config: config, remaining: remaining)
        let depthParameters = depth.map { config.blockParameters(config.layers[$0.block]) }
        var width: WidthStep?
        var widthBudget: Int?
        if settings.method != .depth || depth == nil {
            let blockBudget: Double = switch settings.method {
            case .mop: depthParameters.map(Double.init) ?? remaining
            case .width: Double(config.layers.map(config.blockParameters).reduce(0, +)) / Double(config.layers.count)
            case .depth, .amp: remaining
            }
            let budget = Int(min(blockBudget, remaining).rounded())
            let scores = try scorer.ampScores(current: state.structure, config: config)
            width = try WidthPlanner.plan(config: config, scores: scores, budget: budget, criterion: settings.criterion,
                                          unit: settings.gqaUnit, accumulators: state.accumulators,
                                          random: &state.random)
            widthBudget = budget
        }
        let depthStep = depth.map { DepthPlanner.step(removing: $0.block, from: config) }
        let depthBlock = depth.map { state.structure.layers[$0.block].index }

        // Both losses are always asked, whatever the selection, so the report shows both branches.
        let depthLoss = try depth.map { try $0.loss ?? scorer.loss(current: state.structure, step: depthStep) }
        let widthLoss = try width.map { try scorer.loss(current: state.structure, step: $0.step) }
        var depthKL: Double?, widthKL: Double?
        if settings.selection == .kl, let depthStep, let width {
            depthKL = try scorer.klDivergence(current: state.structure, step: depthStep)
            widthKL = try scorer.klDivergence(current: state.structure, step: width.step)
        }

        let takeDepth: Bool
        switch (depth, width) {
        case (nil, _): takeDepth = false
        case (_, nil): takeDepth = true
        default:
            switch settings.selection {
            case .loss: takeDepth = (depthLoss ?? .infinity) <= (widthLoss ?? .infinity)
            case .kl: takeDepth = (depthKL ?? .infinity) <= (widthKL ?? .infinity)
            case .random: takeDepth = state.random.next() & 1 == 0
            case .path:
                let index = state.structure.path.count
                takeDepth = index < settings.path.count
                    && settings.path[settings.path.index(settings.path.startIndex, offsetBy: index)] == "L"
            }
        }

        if takeDepth, let depth, let depthStep {
            state.structure = try state.structure.composed(with: depthStep)
            state.accumulators.remove(at: depth.block)
        } else if let width {
            state.structure = try state.structure.composed(with: width.step)
            state.accumulators = width.accumulators
        }
        let after = state.structure.config(of: original)
        guard after.parameters < parameters else {
            throw MopError("the search cannot reach the target \(settings.target): the last step removed nothing "
                           + "(\(parameters) parameters left, one head unit and one neuron must stay in each layer)")
        }
        state.records.append(SearchRecord(
            iteration: state.records.count + 1, branch: takeDepth ? "L" : "G", depthLoss: depthLoss, widthLoss: widthLoss,
            depthKL: depthKL, widthKL: widthKL, depthBlock: depthBlock,
            widthBudget: widthBudget, parameters: after.parameters, nonEmbeddingParameters: after.nonEmbeddingParameters,
            compression: 1 - Double(after.parameters) / Double(originalParameters),
            nonEmbeddingCompression: 1 - Double(after.nonEmbeddingParameters) / Double(original.nonEmbeddingParameters),
            seconds: Date().timeIntervalSince(start)))
    }

    /// The depth candidate of this iteration, or nil when the method takes no depth steps, one block is left, or
    /// removing the block would overshoot the target by more than the tolerance.
    private func depthCandidate(_ state: State, config: ModelConfig, remaining: Double) throws -> DepthChoice? {
        guard settings.method == .mop || settings.method == .depth, config.layers.count > 1 else { return nil }
        // Skip the depth rule's cost (a forward pass per block for `loss`) when no block could fit.
        let fits = { (block: Int) in Double(config.blockParameters(config.layers[block])) <= remaining + self.slack }
        guard config.layers.indices.contains(where: fits) else { return nil }
        guard let choice = try DepthPlanner.choose(rule: settings.depthRule, current: state.structure, config: config,
                                                   scorer: scorer),
              fits(choice.block) else { return nil }
        return choice
    }
}
