/// The forward pass's GFLOP/s on one core of this machine, for `ClusterPlan`: a random two-block model with the
/// given model's shapes, scaled down to a hidden size of at most 2048 (a 70B block would not fit the measuring
/// machine), scoring one window of `seqLen` tokens, best of 3.
public enum ForwardRate {
    public static func measure(_ config: ModelConfig, seqLen: Int) -> Double {
        let scale = max(1, (config.hidden + 2047) / 2048)
        let layer = config.layers.max { $0.intermediate < $1.intermediate } ?? LayerShape(heads: 1, kvHeads: 1, intermediate: 1)
        let heads = max(1, layer.heads / scale), kvHeads = max(1, min(heads, layer.kvHeads / scale))
        let shape = LayerShape(heads: heads - heads % kvHeads, kvHeads: kvHeads, intermediate: max(1, layer.intermediate / scale))
        var sample = config
        sample.hidden = config.hidden / scale
        sample.layers = [shape, shape]
        sample.vocabSize = 8192
        sample.tiedEmbeddings = true
        sample.maxPositions = max(seqLen, 2)
        let model = Transformer(weights: .random(config: sample, seed: 1))
        let tokens = (0..<seqLen).map { Int32($0 % sample.vocabSize) }
        return onOneThread { ForwardBenchmark.run(model, tokens: tokens, runs: 3).forwardGflops }
    }

    /// One core's GFLOP/s running block `index` of a real model (its matrices as the model holds them, so decoding a
    /// quantized matrix once per product counts) on one sequence of `tokens` tokens, best of 4 runs (the first pages
    /// the block in): the per-block cost the plan's search predictions scale. Only the block's tensors are read.
    public static func measure(block weights: ModelWeights, index: Int, tokens: Int) -> Double {
        var config = weights.config.keeping([index], shapes: [weights.config.layers[index]])
        config.maxPositions = max(tokens, 2)
        let model = Transformer(weights: ModelWeights(config: config, embedding: weights.embedding, layers: [weights.layers[index]],
                                                      finalNorm: weights.finalNorm, output: weights.output,
                                                      finalNormBias: weights.finalNormBias, outputBias: weights.outputBias))
        var random = SeededRandom(seed: 1)
        let input = (0..<(tokens * config.hidden)).map { _ in Float(Double(random.next() % 2001) / 1000 - 1) }
        let flops = ForwardBenchmark.blockProducts(config, tokens: tokens).reduce(0) { $0 + $1.flops }
        return onOneThread {
            var best = Double.infinity
            for _ in 0..<4 {
                var x = input
                let start = ContinuousClock.now
                model.runBlocks(0..<1, &x, segments: [0..<tokens])
                best = min(best, seconds(since: start))
            }
            return flops / best / 1e9
        }
    }

    /// `body` with BLAS on one thread: the rates are a core's.
    private static func onOneThread(_ body: () -> Double) -> Double {
        let threads = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(threads) }
        return body()
    }
}
