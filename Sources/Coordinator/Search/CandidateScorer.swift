import Foundation
import Shared

/// Typed questions to the workers. The workers are reached only through `score`, which returns the answer summed
/// over all ranks (SPEC 7); this checks every answer's layout, so a worker bug ends the run with a clear message
/// instead of an index trap.
public struct CandidateScorer {
    private let score: (ScoringRequest) throws -> [Double]

    public init(_ score: @escaping (ScoringRequest) throws -> [Double]) {
        self.score = score
    }

    /// The answers to independent `loss` questions (mean next-token NLL per scored token of `current` with `step`
    /// applied) and `klDivergence` ones (mean KL(dense original || current+step)), in order. They are one call so
    /// that their order is fixed before any is asked, and a distribution that deals them to groups of ranks can
    /// answer them at once.
    public func means(_ requests: [ScoringRequest]) throws -> [Double] {
        try requests.map { request in
            let what = switch request {
            case .loss: "loss"
            case .klDivergence: "KL divergence"
            case .ampStatistics, .blockInfluence, .stop: throw MopError("a batch of means holds \(request)")
            }
            return try mean(score(request), what: what)
        }
    }

    /// AMP scores of the current model, whose shape is `config`.
    public func ampScores(current: PruningStructure, config: ModelConfig) throws -> AMPScores {
        let answer = try score(.ampStatistics(current: current))
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
        let answer = try score(.blockInfluence(current: current))
        guard answer.count == current.layers.count + 1 else {
            throw MopError("the workers answered \(answer.count) block influence values for \(current.layers.count) blocks")
        }
        guard answer.allSatisfy(\.isFinite), let tokens = answer.last, tokens > 0 else {
            throw MopError("the workers' block influence is not finite or covers no token")
        }
        return answer.dropLast().map { $0 / tokens }
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
