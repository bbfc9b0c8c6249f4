import Foundation
import Shared

/// Perplexity windows through a pipeline of stages (`--stages`): the first stage embeds a window and runs its
/// blocks, each next stage receives the activations [T, D] and runs its own, the last applies the final norm and sums
/// the next-token NLL. A window is one micro-batch: while stage s runs window w, stage s - 1 already runs w + 1. Every
/// window goes through exactly `PerplexityWorker`'s operations, so the sums equal an unsharded run's.
public enum PipelinePerplexity {
    /// One stage's share of a run: its sums (non-zero on the last stage only) and what its links saw.
    public struct StageResult {
        public let sums: PartialSums
        public let link: StageLink
        public let seconds: Double
    }

    /// Every rank of one pipeline replica calls this with the same `windows` (ranges into `tokens`); `model` must hold
    /// `part`. `progress` is told how many windows are done.
    public static func score(_ model: Transformer, part: ModelPart, link: StageLink, tokens: [Int32],
                             windows: ArraySlice<Range<Int>>, communicator: some Communicator,
                             progress: (Int) -> Void = { _ in }) throws -> StageResult {
        let start = ContinuousClock.now
        var link = link, sums = PartialSums()
        for (done, window) in windows.enumerated() {
            let batch = [Array(tokens[window])]
            let segments = Transformer.segments(batch)
            var x = link.previous == nil ? model.embed(batch) : try link.receive(count: window.count * model.config.hidden,
                                                                                   communicator: communicator)
            model.runBlocks(part.blocks, &x, segments: segments)
            if link.next != nil {
                link.send(x, communicator: communicator)
            } else {
                let targets = NextTokenLoss.targets(batch)
                sums.negativeLogLikelihood += NextTokenLoss.sum(hidden: model.finalNorm(x), targets: targets,
                                                                output: model.weights.outputMatrix)
                sums.tokens += Double(targets.count)
            }
            progress(done + 1)
        }
        return StageResult(sums: sums, link: link, seconds: seconds(since: start))
    }
}
