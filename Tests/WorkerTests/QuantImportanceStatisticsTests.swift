import XCTest
@testable import Shared
@testable import Worker

/// `QuantImportanceStatistics` and `QuantImportance`: the mean squared input per column of every linear layer, against
/// the inputs recorded from the same forward pass and summed naively here, and the attention input of block 0 against
/// RMSNorm of the embeddings computed here.
final class QuantImportanceStatisticsTests: XCTestCase {
    let config = ModelConfig(vocabSize: 37, hidden: 16, headDim: 4,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24), LayerShape(heads: 2, kvHeads: 1, intermediate: 12)],
                             tiedEmbeddings: true, maxPositions: 64)

    /// Keeps every observed input, by layer and kind.
    final class Recorder: ForwardObserver {
        var inputs: [String: [Float]] = [:]
        func attentionInput(layer: Int, h: [Float], segments: [Range<Int>]) { inputs["\(layer).attention", default: []] += h }
        func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>]) { inputs["\(layer).attentionOutput", default: []] += z }
        func mlpInput(layer: Int, h: [Float], segments: [Range<Int>]) { inputs["\(layer).mlp", default: []] += h }
        func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) { inputs["\(layer).mlpActivation", default: []] += a }
    }

    func testMeansAreTheColumnsMeanSquaredInputs() throws {
        let weights = ModelWeights.random(config: config, seed: 5)
        let transformer = Transformer(weights: weights)
        let batch: [[Int32]] = [[3, 8, 1, 30, 22], [7, 7, 2]]
        let statistics = QuantImportanceStatistics(config: config), recorder = Recorder()
        _ = transformer.hiddenStates(batch, observer: statistics)
        _ = transformer.hiddenStates(batch, observer: recorder)
        let means = QuantImportance.means(packedSums: statistics.packed(tokens: 8), config: config)
        XCTAssertEqual(means.count, 2 * 7)

        func naive(_ x: [Float], width: Int) -> [Float] {
            (0..<width).map { column in
                Float(stride(from: column, to: x.count, by: width).reduce(0.0) { $0 + Double(x[$1]) * Double(x[$1]) } / 8)
            }
        }
        for layer in 0..<2 {
            let shape = config.layers[layer], prefix = "model.layers.\(layer)."
            let expected: [(String, String, Int)] = [
                ("self_attn.q_proj.weight", "attention", 16), ("self_attn.k_proj.weight", "attention", 16),
                ("self_attn.v_proj.weight", "attention", 16), ("self_attn.o_proj.weight", "attentionOutput", shape.heads * 4),
                ("mlp.gate_proj.weight", "mlp", 16), ("mlp.up_proj.weight", "mlp", 16),
                ("mlp.down_proj.weight", "mlpActivation", shape.intermediate),
            ]
            for (tensor, input, width) in expected {
                let recorded = try XCTUnwrap(recorder.inputs["\(layer).\(input)"])
                XCTAssertEqual(recorded.count, 8 * width)
                let ours = try XCTUnwrap(means[prefix + tensor])
                for (a, b) in zip(ours, naive(recorded, width: width)) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), tensor) }
                // Each linear layer's importance has one weight per column of its matrix.
                XCTAssertEqual(ours.count, weights.layers[layer][try XCTUnwrap(config.architecture.blockTensors.first { $0.hfName == tensor }).role]!.cols)
            }
        }
        // Block 0's attention input is RMSNorm(embedding) * attention norm, computed here from the embedding rows.
        let rows = batch.flatMap { $0 }.flatMap { Array(weights.embedding.data[Int($0) * 16..<(Int($0) + 1) * 16]) }
        let normed = RMSNorm.forward(rows, rows: 8, weight: weights.layers[0][.attentionNorm]!, eps: config.rmsNormEps)
        for (a, b) in zip(try XCTUnwrap(means["model.layers.0.self_attn.q_proj.weight"]), naive(normed, width: 16)) {
            XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)))
        }
        // No counted token: no importance.
        XCTAssertTrue(QuantImportance.means(packedSums: statistics.packed(tokens: 0), config: config).isEmpty)
    }
}
