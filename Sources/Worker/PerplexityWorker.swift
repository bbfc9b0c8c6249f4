import Shared

/// Scores a rank's share of perplexity windows.
public enum PerplexityWorker {
    /// Summed next-token NLL of `windows` (ranges into `tokens`), scored one window per forward pass.
    /// `progress` is told how many windows are done.
    public static func score(_ model: Transformer, tokens: [Int32], windows: ArraySlice<Range<Int>>,
                             progress: (Int) -> Void = { _ in }) -> PartialSums {
        var sums = PartialSums()
        for (done, window) in windows.enumerated() {
            let result = NextTokenLoss.sum(model, batch: [Array(tokens[window])])
            sums.negativeLogLikelihood += result.negativeLogLikelihood
            sums.tokens += Double(result.tokens)
            progress(done + 1)
        }
        return sums
    }
}
