import Shared

/// Scores a rank's share of perplexity windows.
public enum PerplexityWorker {
    /// Summed next-token NLL of `windows` (ranges into `tokens`), scored one window per forward pass; a window whose
    /// NLL is not finite ends the run (`ForwardOverflow`, naming `file`). `progress` is told how many windows are done.
    public static func score(_ model: Transformer, tokens: [Int32], windows: ArraySlice<Range<Int>>, file: String,
                             progress: (Int) -> Void = { _ in }) throws -> PartialSums {
        var sums = PartialSums()
        for (done, (index, window)) in zip(windows.indices, windows).enumerated() {
            let batch = [Array(tokens[window])]
            let result = NextTokenLoss.sum(model, batch: batch)
            try ForwardOverflow.check(result.negativeLogLikelihood, file: file, at: "window \(index + 1)") {
                model.firstNonFiniteLayer(batch)
            }
            sums.negativeLogLikelihood += result.negativeLogLikelihood
            sums.tokens += Double(result.tokens)
            progress(done + 1)
        }
        return sums
    }
}
