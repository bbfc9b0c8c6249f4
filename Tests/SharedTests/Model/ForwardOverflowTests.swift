import XCTest
@testable import Shared

/// `ForwardOverflow`: the finiteness checks of every reduction and the layer search behind their message.
final class ForwardOverflowTests: XCTestCase {
    func testSumsAndValuesThatAreNotFiniteThrowNamingThePlace() throws {
        XCTAssertTrue(ForwardOverflow.allFinite([1, -3e38, 0]))
        XCTAssertFalse(ForwardOverflow.allFinite([1, .infinity]))
        XCTAssertFalse(ForwardOverflow.allFinite([.nan, 1]))
        XCTAssertNoThrow(try ForwardOverflow.check(1e300, file: "m.gguf", at: "window 1"))
        XCTAssertNoThrow(try ForwardOverflow.check([Float](repeating: 3e38, count: 4), file: "m.gguf", at: "window 1"))
        let cases: [(() throws -> Void, String)] = [
            ({ try ForwardOverflow.check(.nan, file: "m.gguf", at: "window 3") { 7 } },
             "m.gguf: the forward pass gave NaN at window 3 (layer 7): the weights overflow fp32"),
            ({ try ForwardOverflow.check(-.infinity, file: "m.gguf", at: "example 2") },
             "m.gguf: the forward pass gave -inf at example 2: the weights overflow fp32"),
            ({ try ForwardOverflow.check([0, .infinity, .nan], file: "m.gguf", at: "generated token 1") },
             "m.gguf: the forward pass gave inf at generated token 1: the weights overflow fp32"),
        ]
        for (body, message) in cases {
            XCTAssertThrowsError(try body()) { XCTAssertEqual("\($0)", message) }
        }
    }

    func testTheFirstOverflowingLayerIsFound() {
        var weights = ModelWeights.random(config: TinyConfigs.gqa, seed: 5)
        let tokens: [Int32] = [1, 2, 3, 4]
        XCTAssertNil(Transformer(weights: weights).firstNonFiniteLayer([tokens]))
        let last = weights.layers.count - 1
        weights.layers[last][.mlpNorm]! = Tensor(shape: weights.layers[last][.mlpNorm]!.shape,
                                              data: [Float](repeating: 3e38, count: weights.layers[last][.mlpNorm]!.count))
        let model = Transformer(weights: weights)
        XCTAssertEqual(model.firstNonFiniteLayer([tokens]), last)
        XCTAssertFalse(ForwardOverflow.allFinite(model.hiddenStates([tokens])))
    }
}
