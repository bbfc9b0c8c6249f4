import XCTest
@testable import Shared

/// Zero neurons round feed-forward widths up to whole blocks without changing what the model computes, and the GGUF
/// written with them reads back at the padded widths.
final class GGUFNeuronPaddingTests: XCTestCase {
    let config = ModelConfig(vocabSize: 61, hidden: 32, headDim: 8,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 37), LayerShape(heads: 4, kvHeads: 2, intermediate: 64)],
                             tiedEmbeddings: true, maxPositions: 64)

    func testPaddedModelComputesTheSameLogitsWithWholeBlockWidths() throws {
        let weights = ModelWeights.random(config: config, seed: 9)
        let padding = GGUFNeuronPadding(config: config, multiple: 32)
        XCTAssertEqual(padding.padded.layers.map(\.intermediate), [64, 64])
        let tensors = Dictionary(uniqueKeysWithValues: weights.namedTensors().map { ($0.name, { Tensor(shape: $0.shape, data: $0.values) }(padding.rows(TensorRows($0.tensor), hfName: $0.name))) })
        let padded = try ModelWeights(config: padding.padded, tensors: tensors, file: "padded")
        XCTAssertEqual(padded.layers[0][.gate]!.shape, [64, 32])
        XCTAssertEqual(padded.layers[0][.down]!.shape, [32, 64])
        // The kept neurons' weights are where they were; the added ones are zero.
        XCTAssertEqual(Array(padded.layers[0][.down]!.data[64..<(64 + 37)]), Array(weights.layers[0][.down]!.data[37..<74]))
        XCTAssertEqual(Array(padded.layers[0][.down]!.data[(64 + 37)..<128]), [Float](repeating: 0, count: 27))
        XCTAssertEqual(Array(padded.layers[0][.up]!.data[(37 * 32)...]), [Float](repeating: 0, count: 27 * 32))
        XCTAssertEqual(padded.layers[1][.down]!.data, weights.layers[1][.down]!.data)  // already whole blocks: untouched
        XCTAssertEqual(padded.layers[0][.q]!.data, weights.layers[0][.q]!.data)
        let tokens: [Int32] = [1, 5, 9, 2, 7]
        let ours = Transformer(weights: padded).logits(tokens).data, reference = Transformer(weights: weights).logits(tokens).data
        for (a, b) in zip(ours, reference) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
        XCTAssertEqual(GGUFNeuronPadding(config: config, multiple: 1).padded, config)
    }

    func testTheWriterPadsAndTheFileReadsBackPadded() throws {
        let weights = ModelWeights.random(config: config, seed: 3)
        let path = NSTemporaryDirectory() + "/mop-padding-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try GGUFWriter.write(weights: weights, tokenizer: nil, to: path, type: .q8_0, padFeedForwardTo: 32)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.tensor(named: "blk.0.ffn_down.weight")?.type, .q8_0)
        XCTAssertEqual(file.tensor(named: "blk.0.ffn_down.weight")?.dimensions, [64, 32])
        XCTAssertEqual(file.tensor(named: "blk.0.ffn_gate.weight")?.dimensions, [32, 64])
        XCTAssertEqual(try GGUFModel.config(of: file).layers.map(\.intermediate), [64, 64])
    }
}
