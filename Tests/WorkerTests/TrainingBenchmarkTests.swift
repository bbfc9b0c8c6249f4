import XCTest
import Shared
@testable import Worker

final class TrainingBenchmarkTests: XCTestCase {
    /// The recorded products must be the whole step's work, counted by hand: per block three passes over the frozen
    /// matrices (forward, the backward's recompute, dx), the LoRA branch products (2 Tr(in+out) per pass forward,
    /// 4 Tr(in+out) backward), attention (4 T^2 hd per head forward, twice, and 10 T^2 hd backward: P again, dV, dP,
    /// dQ, dK); the loss head's logits and their gradient, 2 (T-1) V D each.
    func testStepProductsAreTheWholeForwardAndBackward() throws {
        let config = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4,
                                 layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24),
                                          LayerShape(heads: 2, kvHeads: 1, intermediate: 12)],
                                 tiedEmbeddings: true, maxPositions: 96)
        let model = ModelWeights.random(config: config, seed: 1)
        let t = 80, r = 3
        let tokens = (0..<t).map { Int32($0 * 7 % 40) }
        let result = try TrainingBenchmark.run(model: model, tokens: tokens, lora: LoRAConfig(rank: r, alpha: 6, dropout: 0.1),
                                               runs: 2, file: "m.gguf", communicator: LocalCommunicator())
        var expected = 0.0
        let d = config.hidden, hd = config.headDim
        for layer in config.layers {
            let matrices = Double(config.blockParameters(layer) - 2 * d)
            let inPlusOut = Double(7 * d + 2 * layer.heads * hd + 2 * layer.kvHeads * hd + 3 * layer.intermediate)
            expected += 6 * Double(t) * matrices + 8 * Double(t * r) * inPlusOut + 18 * Double(t * t * hd * layer.heads)
        }
        expected += 4 * Double((t - 1) * config.vocabSize * d)
        XCTAssertEqual(result.gflopPerStep * 1e9, expected, accuracy: 1e-6 * expected)
        XCTAssertEqual(result.tokens, t)
        XCTAssertEqual(result.loraRank, r)
        XCTAssertEqual(result.ratio, result.stepGflops / result.sgemmGflops, accuracy: 1e-9)
        XCTAssertEqual(result.tokensPerSecond, Double(t) / result.stepSeconds, accuracy: 1e-6)
        XCTAssertEqual(result.stepGflops, result.gflopPerStep / result.stepSeconds, accuracy: 1e-9)
        XCTAssertGreaterThan(result.products, 0)
        XCTAssertGreaterThanOrEqual(result.peakStepBytes, 0)
    }

    func testRefusesSeveralRanksAndNoRuns() {
        let config = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4, layers: [LayerShape(heads: 2, kvHeads: 1, intermediate: 8)],
                                 tiedEmbeddings: true, maxPositions: 16)
        let model = ModelWeights.random(config: config, seed: 1)
        XCTAssertThrowsError(try TrainingBenchmark.run(model: model, tokens: [1, 2, 3], lora: LoRAConfig(), runs: 1, file: "m.gguf",
                                                       communicator: LocalCommunicator(size: 2))) {
            XCTAssertTrue("\($0)".contains("one process"), "\($0)")
        }
        XCTAssertThrowsError(try TrainingBenchmark.run(model: model, tokens: [1, 2, 3], lora: LoRAConfig(), runs: 0, file: "m.gguf",
                                                       communicator: LocalCommunicator()))
    }
}
