import Foundation
import Shared

/// Typed questions to the workers. The workers are reached only through `answer`, which returns the answers to a
/// batch of requests, in order, each summed over the ranks that answered it (docs/design.md#sharding-and-sums); this
/// checks every answer's layout, so a worker bug ends the run with a clear message instead of an index trap.
///
/// Answers are remembered for the run: the workers answer a request deterministically, and a lookahead or a beam
/// asks the same questions again (the winner's lookahead already expanded it; kept paths share parents), so a
/// repeated request costs nothing.
public struct CandidateScorer {
    private let ask: ([ScoringRequest]) throws -> [[Double]]
    private let memory = Memory()

    public init(batch answer: @escaping ([ScoringRequest]) throws -> [[Double]]) {
        ask = answer
    }

    /// Requests the workers answered, and those answered from memory, so far.
    public var counts: (asked: Int, remembered: Int) { (memory.asked, memory.remembered) }

    /// A scorer whose batches are asked one request after another.
    public init(_ score: @escaping (ScoringRequest) throws -> [Double]) {
        self.init(batch: { try $0.map(score) })
    }

    /// The answers to independent `loss` questions (mean next-token NLL per scored token of `current` with `step`
    /// applied) and `klDivergence` ones (mean KL(dense original || current+step)), in order. They are one call so
    /// that their order is fixed before any is asked, and a distribution that deals them to groups of ranks can
    /// answer them at once.
    public func means(_ requests: [ScoringRequest]) throws -> [Double] {
        try pooledMeans(requests.map { [$0] })
    }

    /// One mean per group of `loss` (or `klDivergence`) questions: the group's sums over its scored tokens, so a
    /// candidate scored on two folds gets the mean over both folds' tokens. All groups are asked as one batch.
    public func pooledMeans(_ groups: [[ScoringRequest]]) throws -> [Double] {
        let requests = groups.flatMap { $0 }
        let kinds = try requests.map { request in
            switch request {
            case .loss: "loss"
            case .klDivergence: "KL divergence"
            case .ampStatistics, .blockInfluence, .quantImportance, .stop: throw MopError("a batch of means holds \(request)")
            }
        }
        // Nothing to ask is not worth a message to every rank.
        guard !requests.isEmpty else { return groups.map { _ in .nan } }
        let answers = try zip(try answer(requests), kinds).map { try pair($0, what: $1) }
        var offset = 0
        return try groups.map { group in
            defer { offset += group.count }
            let sums = answers[offset..<(offset + group.count)]
            let total = sums.reduce(0) { $0 + $1.sum }, count = sums.reduce(0) { $0 + $1.count }
            guard count > 0 else { throw MopError("the workers scored no token for \(group)") }
            return total / count
        }
    }

    /// Asks `requests` as one batch and remembers the answers, so the calls that need them one by one (`ampScores`,
    /// `blockInfluence`) find them answered: a beam's paths' questions can then be dealt to rank groups at once.
    public func prefetch(_ requests: [ScoringRequest]) throws {
        _ = try answer(requests)
    }

    /// AMP scores of the current model, whose shape is `config`, from the statistics of the calibration `folds`
    /// (nil: the whole set), added.
    public func ampScores(current: PruningStructure, config: ModelConfig, folds: [CalibrationFold?] = [nil]) throws -> AMPScores {
        let answers = try answer(folds.map { .ampStatistics(current: current, fold: $0) })
        let expected = config.layers.reduce(1) { $0 + $1.heads + $1.intermediate }
        if let wrong = answers.first(where: { $0.count != expected }) {
            throw MopError("the workers answered \(wrong.count) AMP statistics, the current model needs \(expected)")
        }
        let sums = Self.added(answers)
        guard sums.allSatisfy(\.isFinite), let prompts = sums.last, prompts > 0 else {
            throw MopError("the workers' AMP statistics are not finite or cover no prompt")
        }
        return AMPScores(packedSums: sums, config: config)
    }

    /// Block influence of every current block: mean over tokens of 1 - cos(block input, block output), over the
    /// calibration `folds` (nil: the whole set).
    public func blockInfluence(current: PruningStructure, folds: [CalibrationFold?] = [nil]) throws -> [Double] {
        let answers = try answer(folds.map { .blockInfluence(current: current, fold: $0) })
        if let wrong = answers.first(where: { $0.count != current.layers.count + 1 }) {
            throw MopError("the workers answered \(wrong.count) block influence values for \(current.layers.count) blocks")
        }
        let sums = Self.added(answers)
        guard sums.allSatisfy(\.isFinite), let tokens = sums.last, tokens > 0 else {
            throw MopError("the workers' block influence is not finite or covers no token")
        }
        return sums.dropLast().map { $0 / tokens }
    }

    /// Element-wise sums of equally long answers (sums over folds are the sums over their union).
    private static func added(_ answers: [[Double]]) -> [Double] {
        answers.dropFirst().reduce(answers[0]) { zip($0, $1).map(+) }
    }

    /// The answers to `requests`, in order: remembered ones from memory, the others (each once) from the workers.
    private func answer(_ requests: [ScoringRequest]) throws -> [[Double]] {
        var unknown: [ScoringRequest] = []
        for request in requests where memory.answers[request] == nil && !unknown.contains(request) {
            unknown.append(request)
        }
        if !unknown.isEmpty {
            let answers = try ask(unknown)
            guard answers.count == unknown.count else {
                throw MopError("the workers answered \(answers.count) of a batch of \(unknown.count) requests")
            }
            for (request, answer) in zip(unknown, answers) { memory.answers[request] = answer }
        }
        memory.asked += unknown.count
        memory.remembered += requests.count - unknown.count
        return requests.map { memory.answers[$0]! }
    }

    private final class Memory {
        var answers: [ScoringRequest: [Double]] = [:]
        var asked = 0
        var remembered = 0
    }

    /// (sum, count) from a [sum, count] answer.
    private func pair(_ answer: [Double], what: String) throws -> (sum: Double, count: Double) {
        guard answer.count == 2 else { throw MopError("the workers answered \(answer.count) values for a \(what), expected 2") }
        guard answer[0].isFinite, answer[1] >= 0 else {
            throw MopError("the workers' \(what) is \(answer[0]) over \(answer[1]) tokens")
        }
        return (answer[0], answer[1])
    }
}
