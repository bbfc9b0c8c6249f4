import Foundation
import XCTest
@testable import Shared

final class LoRATests: XCTestCase {
    func testLayoutSizesFollowEveryLayerShape() {
        let config = LoRAConfig(rank: 3, alpha: 6, dropout: 0, targets: [.down, .q, .v])
        XCTAssertEqual(config.targets, [.q, .v, .down], "targets keep the canonical order")
        let layout = LoRALayout(config: config, model: TinyConfigs.nonUniform)
        // hidden 32, headDim 8; layers (4, 2, 48), (2, 1, 20), (3, 3, 7).
        let expected: [(Int, LoRATarget, Int, Int)] = [
            (0, .q, 32, 32), (0, .v, 32, 16), (0, .down, 48, 32),
            (1, .q, 32, 16), (1, .v, 32, 8), (1, .down, 20, 32),
            (2, .q, 32, 24), (2, .v, 32, 24), (2, .down, 7, 32),
        ]
        XCTAssertEqual(layout.entries.count, expected.count)
        var offset = 0
        for (entry, (layer, target, inner, out)) in zip(layout.entries, expected) {
            XCTAssertEqual([entry.layer, entry.inFeatures, entry.outFeatures], [layer, inner, out])
            XCTAssertEqual(entry.target, target)
            XCTAssertEqual(entry.a, offset..<(offset + 3 * inner))
            XCTAssertEqual(entry.b, entry.a.upperBound..<(entry.a.upperBound + out * 3))
            offset = entry.b.upperBound
        }
        XCTAssertEqual(layout.count, offset)
        XCTAssertNil(layout.entry(layer: 1, target: .k))
        XCTAssertEqual(layout.entry(layer: 2, target: .down)?.inFeatures, 7)
    }

    func testFreshAdaptersFollowPEFTInitialisationAndLeaveTheModelUnchanged() throws {
        let config = TinyConfigs.gqa
        let adapters = LoRAAdapters(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0), model: config, seed: 3)
        for entry in adapters.layout.entries {
            let a = adapters.a(entry).data, bound = 1 / Float(entry.inFeatures).squareRoot()
            XCTAssertTrue(a.allSatisfy { abs($0) <= bound }, "A outside +-1/sqrt(in)")
            XCTAssertGreaterThan(a.map(abs).max()!, bound * 0.8, "A does not spread over its range")
            XCTAssertEqual(adapters.b(entry).data.map(abs).max(), 0, "B starts at zero")
        }
        let model = ModelWeights.random(config: config, seed: 4)
        let batch = [TinyConfigs.tokens(count: 9, vocab: config.vocabSize, seed: 5)]
        let result = try LoRATrainer.lossAndGradients(model: model, adapters: adapters, batch: batch,
                                                      lossMask: [[Bool](repeating: true, count: 9)])
        let base = NextTokenLoss.sum(Transformer(weights: model), batch: batch)
        XCTAssertEqual(result.negativeLogLikelihood, base.negativeLogLikelihood, accuracy: 1e-5 * base.negativeLogLikelihood)
        XCTAssertEqual(result.targets, base.tokens)
        // With B = 0 every dA is zero and dB is not.
        for entry in adapters.layout.entries {
            XCTAssertEqual(result.gradients.values[entry.a].map(abs).max(), 0)
            XCTAssertGreaterThan(result.gradients.values[entry.b].map(abs).max()!, 0)
        }
    }

    func testMergedModelLogitsEqualTheAdaptedModel() {
        for (name, config) in TinyConfigs.all {
            let model = ModelWeights.random(config: config, seed: 6)
            var adapters = LoRAAdapters(config: LoRAConfig(rank: 3, alpha: 5, dropout: 0.1), model: config, seed: 7)
            adapters.parameters = randomFloats(adapters.layout.count, scale: 0.3, seed: 8)
            let merged = adapters.merged(into: model)
            XCTAssertEqual(merged.embedding, model.embedding)
            XCTAssertNotEqual(merged.layers[0][.q]!, model.layers[0][.q]!)
            let tokens = TinyConfigs.tokens(count: 7, vocab: config.vocabSize, seed: 9)
            let expected = ReferenceLoRA(weights: model, layout: adapters.layout, scale: Double(adapters.config.scale))
                .logits(batch: [tokens], parameters: adapters.parameters.map(Double.init))
            let logits = Transformer(weights: merged).logits(tokens)
            XCTAssertLessThan(relativeError(logits.data, Array(expected.joined())), 1e-5, name)
        }
    }

    /// Merged into weights kept as stored, the adapters stay factored beside the stored bytes (no fp32 copy) and the
    /// model computes what the merge into fp32 weights computes.
    func testMergedIntoStoredWeightsKeepsTheBytesAndTheLogits() throws {
        let config = TinyConfigs.mha
        let path = NSTemporaryDirectory() + "/mop-lora-stored-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try GGUFWriter.write(weights: ModelWeights.random(config: config, seed: 14), tokenizer: nil, to: path, type: .f32)
        let stored = try ModelLoader.load(path: path, storage: .stored).weights
        let fp32 = try ModelLoader.load(path: path, storage: .fp32).weights
        var adapters = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 3), model: config, seed: 15)
        adapters.parameters = randomFloats(adapters.layout.count, scale: 0.3, seed: 16)
        let merged = adapters.merged(into: stored), reference = adapters.merged(into: fp32)
        for entry in adapters.layout.entries {
            let tensor = try XCTUnwrap(merged.layers[entry.layer][entry.target.role])
            XCTAssertNotNil(tensor.lowRank, "\(entry.layer) \(entry.target)")
            XCTAssertEqual(tensor.bytesHeld, stored.layers[entry.layer][entry.target.role]!.bytesHeld + 4 * (entry.a.count + entry.b.count))
            XCTAssertLessThan(relativeError(tensor.data, reference.layers[entry.layer][entry.target.role]!.data.map(Double.init)), 1e-6)
        }
        let tokens = TinyConfigs.tokens(count: 7, vocab: config.vocabSize, seed: 17)
        XCTAssertLessThan(relativeError(Transformer(weights: merged).logits(tokens).data,
                                        Transformer(weights: reference).logits(tokens).data.map(Double.init)), 1e-5)
    }

    func testDropoutIsSeededAndOnlyInTraining() throws {
        let config = TinyConfigs.mha
        let model = ModelWeights.random(config: config, seed: 10)
        var adapters = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 4, dropout: 0.3), model: config, seed: 11)
        adapters.parameters = randomFloats(adapters.layout.count, scale: 0.3, seed: 12)
        let batch = [TinyConfigs.tokens(count: 8, vocab: config.vocabSize, seed: 13)]
        let mask = [[Bool](repeating: true, count: 8)]
        func run(_ seed: UInt64?) throws -> LoRATrainer.Result {
            try LoRATrainer.lossAndGradients(model: model, adapters: adapters, batch: batch, lossMask: mask, dropoutSeed: seed)
        }
        let a = try run(1), again = try run(1), other = try run(2), eval = try run(nil)
        XCTAssertEqual(a.loss, again.loss)
        XCTAssertEqual(a.gradients, again.gradients)
        XCTAssertNotEqual(a.loss, other.loss)
        XCTAssertNotEqual(a.loss, eval.loss)
        // Evaluation is the adapted model without dropout: the float64 reference.
        let expected = ReferenceLoRA(weights: model, layout: adapters.layout, scale: Double(adapters.config.scale))
            .loss(batch: batch, lossMask: mask, parameters: adapters.parameters.map(Double.init))
        XCTAssertEqual(eval.loss, expected, accuracy: 1e-5 * expected)
    }

    /// The forward-only loss is the loss of the training pass without dropout, for every model shape.
    func testForwardOnlyLossEqualsTheTrainingPassLoss() throws {
        for (name, config) in TinyConfigs.all {
            let model = ModelWeights.random(config: config, seed: 30)
            var adapters = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 4, dropout: 0.2), model: config, seed: 31)
            adapters.parameters = randomFloats(adapters.layout.count, scale: 0.3, seed: 32)
            let batch = [TinyConfigs.tokens(count: 9, vocab: config.vocabSize, seed: 33),
                         TinyConfigs.tokens(count: 5, vocab: config.vocabSize, seed: 34)]
            let mask = batch.map { s in s.indices.map { $0 % 3 != 0 } }
            let training = try LoRATrainer.lossAndGradients(model: model, adapters: adapters, batch: batch, lossMask: mask)
            let forward = try LoRATrainer.negativeLogLikelihood(model: model, adapters: adapters, batch: batch, lossMask: mask)
            XCTAssertEqual(forward.targets, training.targets, name)
            XCTAssertEqual(forward.negativeLogLikelihood, training.negativeLogLikelihood,
                           accuracy: 1e-9 * training.negativeLogLikelihood, name)
        }
        let model = ModelWeights.random(config: TinyConfigs.gqa, seed: 30)
        let adapters = LoRAAdapters(config: LoRAConfig(), model: TinyConfigs.mha, seed: 1)
        XCTAssertThrowsError(try LoRATrainer.negativeLogLikelihood(model: model, adapters: adapters, batch: [[1, 2]], lossMask: [[true, true]]))
    }

    /// The mask drops about p of the elements, the survivors scaled by 1/(1-p), whatever the values and however
    /// many threads draw it.
    func testDropoutMaskRateAndThreadIndependence() {
        let weight = Tensor(shape: [1, 1], data: [1])
        let linear = LoRALinear(weight: weight, entry: nil, scale: 1, dropout: 0.05, dropoutSeed: 5)
        let count = 200_001
        let ones = [Float](repeating: 1, count: count), values = randomFloats(count, scale: 3, seed: 6)
        let threads = BLAS.threads
        defer { BLAS.setThreads(threads) }
        BLAS.setThreads(1)
        let serial = linear.droppedCopy(ones)
        BLAS.setThreads(2)
        XCTAssertEqual(linear.droppedCopy(ones), serial)
        let dropped = serial.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / Double(count), 0.05, accuracy: 0.003)
        XCTAssertTrue(serial.allSatisfy { $0 == 0 || $0 == Float(1 / 0.95) })
        XCTAssertEqual(linear.droppedCopy(values), zip(values, serial).map { $0 * $1 })
        var accumulated = values
        serial.withUnsafeBufferPointer { linear.applyDropout($0.baseAddress!, count: count, to: &accumulated, accumulate: true) }
        XCTAssertEqual(accumulated, zip(values, serial).map { $0 + $1 * $1 })
    }

    func testTinyModelOverfitsATinyDataset() throws {
        let config = TinyConfigs.gqa
        var model = ModelWeights.random(config: config, seed: 14)
        // The random model's logits are bounded by |RMSNorm(x)| |e_v| (about 3.3, a loss floor near 1.2 over 61
        // tokens) and LoRA cannot move the frozen norm or head; a larger final norm lifts that floor.
        model.finalNorm = Tensor(shape: [config.hidden], data: [Float](repeating: 5, count: config.hidden))
        var adapters = LoRAAdapters(config: LoRAConfig(rank: 8, alpha: 16, dropout: 0), model: config, seed: 15)
        let batch = [TinyConfigs.tokens(count: 8, vocab: config.vocabSize, seed: 16),
                     TinyConfigs.tokens(count: 7, vocab: config.vocabSize, seed: 17)]
        // Prompt tokens are not scored: only the second half of each sequence is the "response".
        let mask = batch.map { s in s.indices.map { $0 >= s.count / 2 } }
        let steps = 100
        var optimizer = AdamW(parameterCount: adapters.layout.count, weightDecay: 0)
        let schedule = LinearSchedule(peak: 5e-2, totalSteps: steps, warmupSteps: 5)
        var losses: [Double] = []
        for step in 0..<steps {
            let result = try LoRATrainer.lossAndGradients(model: model, adapters: adapters, batch: batch, lossMask: mask)
            losses.append(result.loss)
            var gradients = result.gradients.values
            GradientClipping.clip(&gradients, maxNorm: 1)
            optimizer.update(&adapters.parameters, gradients: gradients, learningRate: schedule.learningRate(at: step))
        }
        XCTAssertLessThan(losses.last!, 0.1 * losses[0], "loss went from \(losses[0]) to \(losses.last!)")
    }

    func testBadInputsThrowNamedErrors() {
        let config = TinyConfigs.gqa
        let model = ModelWeights.random(config: config, seed: 18)
        let adapters = LoRAAdapters(config: LoRAConfig(), model: config, seed: 19)
        let tokens: [Int32] = [1, 2, 3]
        func expectError(_ batch: [[Int32]], _ mask: [[Bool]], using chosen: LoRAAdapters? = nil, normalizer: Int? = nil, _ text: String) {
            XCTAssertThrowsError(try LoRATrainer.lossAndGradients(model: model, adapters: chosen ?? adapters, batch: batch, lossMask: mask,
                                                                  normalizer: normalizer)) { error in
                XCTAssertTrue((error as? MopError)?.description.contains(text) ?? false, "\(error) should mention \(text)")
            }
        }
        expectError([tokens], [], "loss mask has 0 sequences")
        expectError([tokens], [[true, true]], "2 flags for 3 tokens")
        expectError([[1, 61]], [[true, true]], "token id 61 outside the vocabulary")
        expectError([[Int32](repeating: 1, count: 65)], [[Bool](repeating: true, count: 65)], "the model takes 64")
        expectError([tokens], [[true, true, true]], normalizer: 0, "normalizer 0")
        let other = LoRAAdapters(config: LoRAConfig(), model: TinyConfigs.mha, seed: 19)
        expectError([tokens], [[true, true, true]], using: other, "another model shape")
        XCTAssertNoThrow(try LoRATrainer.lossAndGradients(model: model, adapters: adapters, batch: [tokens], lossMask: [[true, true, true]]))
        XCTAssertThrowsError(try LoRAConfig(rank: 0).validate(file: "x.json"))
        XCTAssertThrowsError(try LoRAConfig(dropout: 1).validate(file: "x.json"))
        XCTAssertThrowsError(try LoRAConfig(targets: []).validate(file: "x.json"))
    }
}
