import XCTest
@testable import Shared

final class ForwardBenchmarkTests: XCTestCase {
    /// The product list must count exactly the pass's work: 2 FLOPs per weight per token for the block matrices,
    /// 4 hd per head per (query row, position it can see up to its block's end) for attention (scores and their
    /// product with V), 2 V D per scored token for the head. T is 2.5 query blocks of B: the blocks see B, 2B and T
    /// positions, not T each.
    func testProductsCountTheForwardPassFlops() {
        let config = TinyConfigs.nonUniform
        let b = Attention.queryBlock, t = 2 * b + b / 2
        let flops = ForwardBenchmark.products(config, tokens: t).reduce(0) { $0 + $1.flops }
        let seenPerHead: Int = b * b + b * (2 * b) + (b / 2) * t
        var expected = 0.0
        for layer in config.layers {
            let matrices = config.blockParameters(layer) - 2 * config.hidden
            expected += 2 * Double(t) * Double(matrices)
            expected += 4 * Double(seenPerHead * config.headDim * layer.heads)
        }
        expected += 2 * Double(t - 1) * Double(config.vocabSize * config.hidden)
        XCTAssertEqual(flops, expected)
    }

    func testRunReportsConsistentRates() {
        let model = Transformer(weights: ModelWeights.random(config: TinyConfigs.gqa, seed: 1))
        let result = ForwardBenchmark.run(model, tokens: TinyConfigs.tokens(count: 32, vocab: 61, seed: 1), runs: 2)
        XCTAssertGreaterThan(result.forwardGflops, 0)
        XCTAssertEqual(result.ratio, result.forwardGflops / result.sgemmGflops, accuracy: 1e-9)
        XCTAssertEqual(result.tokensPerSecond, 32 / result.forwardSeconds, accuracy: 1e-6)
    }

    /// `mop plan`'s rates: a scaled fp32 copy of a config's shapes, and a real model's block timed alone, which must
    /// read no tensor but that block's (the rest are absent here: reading one would trap).
    func testForwardRatesAreMeasuredAndABlockIsTimedAlone() {
        let config = ModelConfig(vocabSize: 97, hidden: 64, headDim: 16,
                                 layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 128),
                                          LayerShape(heads: 4, kvHeads: 4, intermediate: 256)],
                                 tiedEmbeddings: true, maxPositions: 64)
        let weights = ModelWeights.random(config: config, seed: 2)
        let absent = weights.namedTensors().filter { !$0.name.hasPrefix(ModelWeights.blockPrefix(1)) }
        var tensors = Dictionary(uniqueKeysWithValues: weights.namedTensors().map { ($0.name, $0.tensor) })
        for (name, tensor) in absent { tensors[name] = Tensor(absent: tensor.shape) }
        let onlyBlock1 = try! ModelWeights(config: config, tensors: tensors, file: "<test>")
        for rate in [ForwardRate.measure(block: onlyBlock1, index: 1, tokens: 96), ForwardRate.measure(config, seqLen: 32)] {
            XCTAssertTrue(rate.isFinite && rate > 0, "\(rate)")
        }
    }
}
