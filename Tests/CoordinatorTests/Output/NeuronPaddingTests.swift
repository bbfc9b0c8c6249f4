import XCTest
import Shared
@testable import Coordinator

/// Zero neurons round feed-forward widths up to whole blocks without changing what the model computes.
final class NeuronPaddingTests: XCTestCase {
    func testPaddedModelComputesTheSameLogitsWithWholeBlockWidths() throws {
        var config = TinyModels.config(layers: 2)
        config.layers[0].intermediate = 37
        config.layers[1].intermediate = 64
        let weights = ModelWeights.random(config: config, seed: 9)
        let padded = NeuronPadding.padded(weights, toMultipleOf: 32)
        XCTAssertEqual(padded.config.layers.map(\.intermediate), [64, 64])
        XCTAssertEqual(padded.layers[0][.gate]!.shape, [64, config.hidden])
        XCTAssertEqual(padded.layers[0][.down]!.shape, [config.hidden, 64])
        // The kept neurons' weights are where they were; the added ones are zero.
        XCTAssertEqual(Array(padded.layers[0][.down]!.data[64..<(64 + 37)]), Array(weights.layers[0][.down]!.data[37..<74]))
        XCTAssertEqual(Array(padded.layers[0][.down]!.data[(64 + 37)..<128]), [Float](repeating: 0, count: 27))
        XCTAssertEqual(padded.layers[1][.down]!.data, weights.layers[1][.down]!.data)  // already whole blocks: untouched
        let tokens: [Int32] = [1, 5, 9, 2, 7]
        let ours = Transformer(weights: padded).logits(tokens).data, reference = Transformer(weights: weights).logits(tokens).data
        for (a, b) in zip(ours, reference) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
        XCTAssertEqual(NeuronPadding.padded(weights, toMultipleOf: 1).config, config)
    }
}
