import XCTest
import Shared
@testable import Worker

final class TrainingBenchmarkTests: XCTestCase {
    static let config = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4,
                                    layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24),
                                             LayerShape(heads: 2, kvHeads: 1, intermediate: 12)],
                                    tiedEmbeddings: true, maxPositions: 96)

    /// One sequence of `t` tokens, every position after the first a target.
    static func example(_ t: Int) -> InstructionExample {
        InstructionExample(tokens: (0..<t).map { Int32($0 * 7 % 40) }, lossMask: (0..<t).map { $0 > 0 })
    }

    static func run(_ activations: ActivationMemory, dropout: Float = 0.1, runs: Int = 2) throws -> TrainingBenchmark.Result {
        let model = ModelWeights.random(config: config, seed: 1)
        let adapters = LoRAAdapters(config: LoRAConfig(rank: 3, alpha: 6, dropout: dropout), model: config, seed: 0)
        return try TrainingBenchmark.run(model: model, examples: [example(80)], adapters: adapters, runs: runs,
                                         activations: activations, file: "m.gguf", communicator: LocalCommunicator())
    }

    /// The recorded products must be the whole step's work, counted by hand: per block two passes over the frozen
    /// matrices (forward, dx) and with recompute a third (the backward's second forward), the LoRA branch products
    /// (2 Tr(in+out) per forward, 4 Tr(in+out) backward), attention (4 T^2 hd per head per forward and 10 T^2 hd
    /// backward: P again, dV, dP, dQ, dK); the loss head's logits and their gradient, 2 (T-1) V D each.
    func testStepProductsAreTheWholeForwardAndBackward() throws {
        for activations in [ActivationMemory.recompute, .keep] {
            let result = try Self.run(activations)
            let forwards = activations == .keep ? 1.0 : 2.0
            let config = Self.config, t = 80, r = 3
            var expected = 0.0
            let d = config.hidden, hd = config.headDim
            for layer in config.layers {
                let matrices = Double(config.blockParameters(layer) - 2 * d)
                let inPlusOut = Double(7 * d + 2 * layer.heads * hd + 2 * layer.kvHeads * hd + 3 * layer.intermediate)
                expected += (forwards + 1) * 2 * Double(t) * matrices + (forwards * 2 + 4) * Double(t * r) * inPlusOut
                    + (forwards * 4 + 10) * Double(t * t * hd * layer.heads)
            }
            expected += 4 * Double((t - 1) * config.vocabSize * d)
            check(result, expected: expected, t: t, r: r)
        }
    }

    /// Keeping the activations changes no step: the same losses, with dropout (whose masks are drawn again when a
    /// block is recomputed) and without.
    func testKeptActivationsTakeTheSameStepsAsRecomputedOnes() throws {
        for dropout: Float in [0, 0.1] {
            let recomputed = try Self.run(.recompute, dropout: dropout, runs: 3)
            let kept = try Self.run(.keep, dropout: dropout, runs: 3)
            XCTAssertEqual(kept.losses.count, 4)
            XCTAssertGreaterThan(abs(recomputed.losses[3] - recomputed.losses[0]), 1e-4, "the adapters did not move")
            for (a, b) in zip(recomputed.losses, kept.losses) { XCTAssertEqual(a, b, accuracy: 1e-6 * a, "dropout \(dropout)") }
            XCTAssertEqual(recomputed.learningRates, kept.learningRates)
        }
    }

    func check(_ result: TrainingBenchmark.Result, expected: Double, t: Int, r: Int) {
        XCTAssertEqual(result.gflopPerStep * 1e9, expected, accuracy: 1e-6 * expected, "\(result.activationMemory)")
        XCTAssertEqual(result.tokens, t)
        XCTAssertEqual(result.sequences, 1)
        XCTAssertEqual(result.targets, t - 1)
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
        let adapters = LoRAAdapters(config: LoRAConfig(), model: config, seed: 0)
        let examples = [InstructionExample(tokens: [1, 2, 3], lossMask: [false, true, true])]
        XCTAssertThrowsError(try TrainingBenchmark.run(model: model, examples: examples, adapters: adapters, runs: 1,
                                                       activations: .recompute, file: "m.gguf",
                                                       communicator: LocalCommunicator(size: 2))) {
            XCTAssertTrue("\($0)".contains("one process"), "\($0)")
        }
        XCTAssertThrowsError(try TrainingBenchmark.run(model: model, examples: examples, adapters: adapters, runs: 0,
                                                       activations: .recompute, file: "m.gguf", communicator: LocalCommunicator()))
    }
}
