import XCTest
@testable import Shared

final class ForwardBenchmarkTests: XCTestCase {
    /// The product list must count exactly the pass's work: 2 FLOPs per weight per token for the block matrices,
    /// 4 T^2 hd per head for attention (scores and their product with V), 2 V D per scored token for the head.
    func testProductsCountTheForwardPassFlops() {
        let config = TinyConfigs.nonUniform
        let t = 150
        let flops = ForwardBenchmark.products(config, tokens: t).reduce(0) { $0 + $1.flops }
        var expected = 0.0
        for layer in config.layers {
            let matrices = config.blockParameters(layer) - 2 * config.hidden
            expected += 2 * Double(t) * Double(matrices)
            expected += 4 * Double(t * t * config.headDim * layer.heads)
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
}
