import Foundation
import Shared

/// Perplexity windows through a pipeline of stages (`--stages`, `PipelineStage`): the first stage embeds a window,
/// each stage runs its blocks and hands the activations [T, D] on, the last applies the final norm and sums the
/// next-token NLL. A window is one micro-batch: while stage s runs window w, stage s - 1 already runs w + 1. Every
/// window goes through exactly `PerplexityWorker`'s operations, so the sums equal an unsharded run's.
public enum PipelinePerplexity {
    /// One stage's share of a run: its sums (non-zero on the last stage only) and what its links saw.
    public struct StageResult {
        public let sums: PartialSums
        public let link: StageLink
        public let seconds: Double
    }

    /// Every rank of one pipeline replica calls this with the same `windows` (ranges into `tokens`); `model` must hold
    /// the stage's part; a non-finite window NLL ends the run naming `file`. `progress` is told how many windows are done.
    public static func score(_ model: Transformer, stage: PipelineStage, tokens: [Int32], windows: ArraySlice<Range<Int>>,
                             file: String, progress: (Int) -> Void = { _ in }) throws -> StageResult {
        let start = ContinuousClock.now
        var stage = stage, sums = PartialSums()
        for (done, (index, window)) in zip(windows.indices, windows).enumerated() {
            let batch = [Array(tokens[window])]
            if let hidden = try stage.forward(model, batch: batch) {
                let targets = NextTokenLoss.targets(batch)
                let negativeLogLikelihood = NextTokenLoss.sum(hidden: hidden, targets: targets, output: model.weights.head)
                // The last stage holds only its blocks, so the layer that overflowed stays unnamed.
                try ForwardOverflow.check(negativeLogLikelihood, file: file, at: "window \(index + 1)")
                sums.negativeLogLikelihood += negativeLogLikelihood
                sums.tokens += Double(targets.count)
            }
            progress(done + 1)
        }
        return StageResult(sums: sums, link: stage.link, seconds: seconds(since: start))
    }
}
