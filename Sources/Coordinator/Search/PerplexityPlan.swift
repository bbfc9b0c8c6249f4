import Foundation
import Shared

/// docs/design.md#perplexity: the token stream is cut into non-overlapping windows of `seqLen` tokens (a shorter tail
/// window is kept when it has at least two tokens); every window is scored on its positions 1..<length;
/// ppl = exp(mean NLL).
public struct PerplexityPlan: Equatable, Sendable {
    public let seqLen: Int
    /// Half-open token ranges of the windows, in order.
    public let windows: [Range<Int>]

    public init(tokenCount: Int, seqLen: Int, maxTokens: Int? = nil) {
        precondition(seqLen >= 2)
        let used = min(tokenCount, maxTokens ?? tokenCount)
        self.seqLen = seqLen
        windows = stride(from: 0, to: used, by: seqLen)
            .map { $0..<min($0 + seqLen, used) }
            .filter { $0.count >= 2 }
    }

    /// Predicted tokens of every window: the cost the shards are balanced by.
    public var windowCosts: [Int] { windows.map { $0.count - 1 } }

    /// The windows `rank` of `size` scores (none on rank 0 when it is a `dedicatedCoordinator`).
    public func shard(rank: Int, size: Int, dedicatedCoordinator: Bool = false) -> ArraySlice<Range<Int>> {
        windows[Sharding.range(costs: windowCosts, rank: rank, size: size, dedicatedCoordinator: dedicatedCoordinator)]
    }

    /// exp of the mean negative log-likelihood over all scored tokens.
    public static func perplexity(negativeLogLikelihood: Double, tokens: Double) -> Double {
        exp(negativeLogLikelihood / tokens)
    }
}
