import XCTest
@testable import Shared

/// A candidate scored through a mask must cost exactly what the physically pruned model costs
/// (docs/design.md#masks-equal-surgery).
final class ModelMaskTests: XCTestCase {
    /// A step over `config` that drops layer `dropLayer` (if any), the heads of `dropHeads` and every third neuron.
    func step(_ config: ModelConfig, dropLayer: Int?, dropGroup: Int?) -> PruningStructure {
        var step = PruningStructure.identity(config)
        step.layers.removeAll { $0.index == dropLayer }
        step.layers = step.layers.map { layer in
            var layer = layer
            let shape = config.layers[layer.index]
            if let dropGroup, shape.kvHeads > 1 {
                let size = shape.heads / shape.kvHeads
                layer.kvHeads.removeAll { $0 == dropGroup }
                layer.heads.removeAll { $0 / size == dropGroup }
            }
            layer.neurons.removeAll { $0 % 3 == 1 }
            return layer
        }
        return step
    }

    func testMaskedLossEqualsPhysicallyPrunedLoss() throws {
        for (name, config) in TinyConfigs.all {
            let weights = ModelWeights.random(config: config, seed: 17)
            let batch = [TinyConfigs.tokens(count: 30, vocab: config.vocabSize, seed: 4),
                         TinyConfigs.tokens(count: 12, vocab: config.vocabSize, seed: 5)]
            for step in [step(config, dropLayer: 1, dropGroup: 0), step(config, dropLayer: nil, dropGroup: 1)] {
                let masked = NextTokenLoss.sum(Transformer(weights: weights), batch: batch,
                                               mask: try ModelMask(step: step, config: config))
                let pruned = NextTokenLoss.sum(Transformer(weights: try step.apply(to: weights)), batch: batch)
                XCTAssertEqual(masked.tokens, pruned.tokens)
                XCTAssertEqual(masked.negativeLogLikelihood, pruned.negativeLogLikelihood,
                               accuracy: 1e-5 * pruned.negativeLogLikelihood, name)
                let unmasked = NextTokenLoss.sum(Transformer(weights: weights), batch: batch)
                XCTAssertNotEqual(unmasked.negativeLogLikelihood, masked.negativeLogLikelihood, accuracy: 1e-3)
            }
        }
    }

    func testUnmaskedEqualsNoMask() {
        let weights = ModelWeights.random(config: TinyConfigs.gqa, seed: 2)
        let tokens = TinyConfigs.tokens(count: 9, vocab: 61, seed: 1)
        let model = Transformer(weights: weights)
        XCTAssertEqual(model.logits(tokens, mask: ModelMask(unmasked: TinyConfigs.gqa)), model.logits(tokens))
    }

    func testScoringRequestsRoundTripThroughBytes() throws {
        let current = PruningStructure.identity(TinyConfigs.nonUniform)
        for request in [ScoringRequest.loss(current: current, step: step(TinyConfigs.nonUniform, dropLayer: 2, dropGroup: nil)),
                        .klDivergence(current: current, step: nil), .ampStatistics(current: current),
                        .blockInfluence(current: current), .stop] {
            XCTAssertEqual(try ScoringRequest.decode(request.encoded()), request)
        }
        XCTAssertThrowsError(try ScoringRequest.decode(Array("{\"nonsense\":1}".utf8)))
    }

    func testAMPScoresUnpackMeansInLayerOrder() {
        let config = TinyConfigs.nonUniform
        let heads = config.layers.enumerated().map { l, s in (0..<s.heads).map { Double(10 * l + $0) } }
        let neurons = config.layers.enumerated().map { l, s in (0..<s.intermediate).map { Double(100 * l + $0) } }
        let scores = AMPScores(packedSums: AMPScores.pack(headSums: heads, neuronSums: neurons, prompts: 2), config: config)
        XCTAssertEqual(scores.heads, heads.map { $0.map { $0 / 2 } })
        XCTAssertEqual(scores.neurons, neurons.map { $0.map { $0 / 2 } })
    }
}
