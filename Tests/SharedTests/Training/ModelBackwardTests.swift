import XCTest
@testable import Shared

/// The whole model's loss gradient (fp32, hand-written backward) against central differences of the float64
/// reference loss, w.r.t. every LoRA tensor and the input embeddings, on tiny MHA, GQA and non-uniform models.
final class ModelBackwardTests: XCTestCase {
    struct Case {
        let model: ModelWeights
        let adapters: LoRAAdapters
        let batch: [[Int32]]
        let mask: [[Bool]]
        var reference: ReferenceLoRA { ReferenceLoRA(weights: model, layout: adapters.layout, scale: Double(adapters.config.scale)) }
    }

    /// Adapters with B non-zero (fresh B is zero, which would hide every dA and most of the chain).
    static func makeCase(_ config: ModelConfig, seed: UInt64) -> Case {
        let model = ModelWeights.random(config: config, seed: seed)
        var adapters = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 3, dropout: 0), model: config, seed: seed + 1)
        adapters.parameters = randomFloats(adapters.layout.count, scale: 0.3, seed: seed + 2)
        let batch = [TinyConfigs.tokens(count: 6, vocab: config.vocabSize, seed: seed + 3),
                     TinyConfigs.tokens(count: 4, vocab: config.vocabSize, seed: seed + 4)]
        let mask = [[false, false, true, true, false, true], [false, true, true, true]]
        return Case(model: model, adapters: adapters, batch: batch, mask: mask)
    }

    /// Central difference of f along v (float64, step 1e-5) against the analytic directional derivative g . v.
    /// The tolerance is relative to sum |g_i v_i|, so cancellation inside g . v cannot hide an error.
    func assertDirectional(_ g: [Float], _ v: [Double], _ f: (Double) -> Double, _ what: String) {
        let step = 1e-5
        let numeric = (f(step) - f(-step)) / (2 * step)
        let analytic = zip(g, v).reduce(0.0) { $0 + Double($1.0) * $1.1 }
        let magnitude = zip(g, v).reduce(0.0) { $0 + abs(Double($1.0) * $1.1) }
        XCTAssertGreaterThan(magnitude, 1e-6, "\(what): vanishing gradient")
        XCTAssertLessThan(abs(numeric - analytic), 1e-4 * magnitude, "\(what): numeric \(numeric), analytic \(analytic)")
    }

    func testLossMatchesTheFloat64Reference() throws {
        for (name, config) in TinyConfigs.all {
            let c = Self.makeCase(config, seed: 40)
            let result = try LoRATrainer.lossAndGradients(model: c.model, adapters: c.adapters, batch: c.batch, lossMask: c.mask)
            let expected = c.reference.loss(batch: c.batch, lossMask: c.mask, parameters: c.adapters.parameters.map(Double.init))
            XCTAssertEqual(result.targets, 6, name)
            XCTAssertEqual(result.loss, expected, accuracy: 1e-5 * expected, name)
            XCTAssertEqual(result.negativeLogLikelihood, expected * 6, accuracy: 1e-4 * expected, name)
        }
    }

    func testGradientsOfEveryLoRATensorMatchFiniteDifferences() throws {
        for (name, config) in TinyConfigs.all {
            let c = Self.makeCase(config, seed: 50)
            let result = try LoRATrainer.lossAndGradients(model: c.model, adapters: c.adapters, batch: c.batch, lossMask: c.mask)
            let base = c.adapters.parameters.map(Double.init)
            var rng = SeededRandom(seed: 51)
            for entry in c.adapters.layout.entries {
                for (label, range) in [("A", entry.a), ("B", entry.b)] {
                    let direction = range.map { _ in rng.next() & 1 == 0 ? 1.0 : -1.0 }
                    assertDirectional(Array(result.gradients.values[range]), direction, { t in
                        var p = base
                        for (i, index) in range.enumerated() { p[index] += t * direction[i] }
                        return c.reference.loss(batch: c.batch, lossMask: c.mask, parameters: p)
                    }, "\(name) layer \(entry.layer) \(entry.target) \(label)")
                }
            }
        }
    }

    func testInputEmbeddingGradientMatchesFiniteDifferences() throws {
        for (name, config) in TinyConfigs.all {
            let c = Self.makeCase(config, seed: 60)
            let result = try LoRATrainer.lossAndGradients(model: c.model, adapters: c.adapters, batch: c.batch, lossMask: c.mask,
                                                          inputGradient: true)
            let d = config.hidden
            let gradient = try XCTUnwrap(result.inputGradient)
            // The gradient is of the first block's input: the embedding rows times the family's scale.
            let scale = Double(config.architecture.embeddingScale(config) ?? 1)
            let inputs = c.batch.joined().map { t in (0..<d).map { Double(c.model.embedding.data[Int(t) * d + $0]) * scale } }
            let parameters = c.adapters.parameters.map(Double.init)
            var rng = SeededRandom(seed: 61)
            // Rows 5 and 9 are the last tokens of their sequences: they predict nothing and no later row sees them.
            let unused = [5, 9]
            for row in inputs.indices where !unused.contains(row) {
                let direction = (0..<d).map { _ in rng.next() & 1 == 0 ? 1.0 : -1.0 }
                assertDirectional(Array(gradient[row * d..<(row + 1) * d]), direction, { t in
                    var x = inputs
                    for j in 0..<d { x[row][j] += t * direction[j] }
                    return c.reference.loss(batch: c.batch, lossMask: c.mask, parameters: parameters, inputs: x)
                }, "\(name) input row \(row)")
            }
            for row in unused { XCTAssertEqual(gradient[row * d..<(row + 1) * d].map(abs).max(), 0, "\(name): unused row \(row)") }
        }
    }

    func testNormalizerScalesTheMeanForDataParallelSums() throws {
        let c = Self.makeCase(TinyConfigs.gqa, seed: 70)
        let mean = try LoRATrainer.lossAndGradients(model: c.model, adapters: c.adapters, batch: c.batch, lossMask: c.mask)
        let halves = try [0, 1].map { b in
            try LoRATrainer.lossAndGradients(model: c.model, adapters: c.adapters, batch: [c.batch[b]], lossMask: [c.mask[b]],
                                             normalizer: mean.targets)
        }
        // Summing per-shard gradients of one global mean gives the gradient of the whole batch.
        let summed = zip(halves[0].gradients.values, halves[1].gradients.values).map(+)
        XCTAssertLessThan(relativeError(summed, mean.gradients.values.map(Double.init)), 1e-5)
        XCTAssertEqual(halves[0].loss + halves[1].loss, mean.loss, accuracy: 1e-6)
        XCTAssertEqual(halves[0].targets + halves[1].targets, mean.targets)
    }
}
