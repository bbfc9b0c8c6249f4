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
        let kinds = try requests.map { request in
            switch request {
            case .loss: "loss"
            case .klDivergence: "KL divergence"
            case .ampStatistics, .blockInfluence, .quantImportance, .stop: throw MopError("a batch of means holds \(request)")
            }
        }
        // Nothing to ask is not worth a message to every rank.
        guard !requests.isEmpty else { return [] }
        return try zip(try answer(requests), kinds).map { try mean($0, what: $1) }
    }

    /// Asks `requests` as one batch and remembers the answers, so the calls that need them one by one (`ampScores`,
    /// `blockInfluence`) find them answered: a beam's paths' questions can then be dealt to rank groups at once.
    public func prefetch(_ requests: [ScoringRequest]) throws {
        _ = try answer(requests)
    }

    /// AMP scores of the current model, whose shape is `config`.
    public func ampScores(current: PruningStructure, config: ModelConfig) throws -> AMPScores {
        let answer = try one(.ampStatistics(current: current))
        let expected = config.layers.reduce(1) { $0 + $1.heads + $1.intermediate }
        guard answer.count == expected else {
            throw MopError("the workers answered \(answer.count) AMP statistics, the current model needs \(expected)")
        }
        guard answer.allSatisfy(\.isFinite), let prompts = answer.last, prompts > 0 else {
            throw MopError("the workers' AMP statistics are not finite or cover no prompt")
        }
        return AMPScores(packedSums: answer, config: config)
    }

    /// Block influence of every current block: mean over tokens of 1 - cos(block input, block output).
    public func blockInfluence(current: PruningStructure) throws -> [Double] {
        let answer = try one(.blockInfluence(current: current))
        guard answer.count == current.layers.count + 1 else {
            throw MopError("the workers answered \(answer.count) block influence values for \(current.layers.count) blocks")
        }
        guard answer.allSatisfy(\.isFinite), let tokens = answer.last, tokens > 0 else {
            throw MopError("the workers' block influence is not finite or covers no token")
        }
        return answer.dropLast().map { $0 / tokens }
    }

    private func one(_ request: ScoringRequest) throws -> [Double] {
        guard let only = try answer([request]).first else { throw MopError("the workers answered no \(request)") }
        return only
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

    /// sum / count from a [sum, count] answer.
    private func mean(_ answer: [Double], what: String) throws -> Double {
        guard answer.count == 2 else { throw MopError("the workers answered \(answer.count) values for a \(what), expected 2") }
        guard answer[0].isFinite, answer[1] > 0 else {
            throw MopError("the workers' \(what) is \(answer[0]) over \(answer[1]) tokens")
        }
        return answer[0] / answer[1]
    }
}
