import Shared

/// Scores a rank's share of zero-shot examples.
public enum ZeroShotWorker {
    /// Rows per forward pass: consecutive examples are stacked until about this many tokens, so each linear layer is
    /// one large product rather than many thin ones.
    public static let batchTokens = 1024

    /// Accuracy counts per task (index = `task` of the examples, `taskCount` entries) over `examples`, every choice of
    /// an example in the same forward pass. With a pipeline `stage`, every stage of a replica calls this with the same
    /// examples and only the last one counts (the others' counts stay zero). A group of examples whose scores are not
    /// finite ends the run (`ForwardOverflow`, naming `file`). `progress` is told how many examples
    /// are done.
    public static func score(_ model: Transformer, examples: ArraySlice<(task: Int, example: TokenizedExample)>,
                             taskCount: Int, file: String, stage: PipelineStage? = nil,
                             progress: (Int) -> Void = { _ in }) throws -> [ZeroShotCounts] {
        var stage = stage
        var counts = [ZeroShotCounts](repeating: ZeroShotCounts(), count: taskCount)
        var start = examples.startIndex, done = 0
        while start < examples.endIndex {
            var end = start, tokens = 0
            repeat {
                tokens += examples[end].example.tokenCost
                end += 1
            } while end < examples.endIndex && tokens + examples[end].example.tokenCost <= batchTokens
            let group = examples[start..<end]
            // The forward pass of `ZeroShotScoring.logLikelihoods`, through the stages when there are some.
            let batch = ContextBatch(group.flatMap(\.example.requests), positions: model.positions)
            let hidden = stage == nil ? model.hiddenStates(batch.sequences, prefixes: batch.prefixes)
                : try stage!.forward(model, batch: batch.sequences, prefixes: batch.prefixes)
            if let hidden {
                let logLikelihoods = batch.logLikelihoods(hidden: hidden, output: model.weights.head)
                // A pipeline's last stage holds only its blocks, so there the layer that overflowed stays unnamed.
                try ForwardOverflow.check(logLikelihoods.reduce(0, +), file: file, at: "example \(start + 1)") {
                    stage == nil ? model.firstNonFiniteLayer(batch.sequences, prefixes: batch.prefixes) : nil
                }
                var offset = 0
                for (task, example) in group {
                    let choices = example.requests.count
                    counts[task].add(ZeroShotMetrics.outcome(logLikelihoods: Array(logLikelihoods[offset..<(offset + choices)]),
                                                             lengths: example.normalizationLengths, gold: example.gold))
                    offset += choices
                }
            }
            // Told only once the group is scored, so a failed group is not reported done.
            done += group.count
            progress(done)
            start = end
        }
        return counts
    }
}
