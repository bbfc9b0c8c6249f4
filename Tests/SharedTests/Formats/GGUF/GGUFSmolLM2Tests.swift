import Foundation
import XCTest
@testable import Shared

/// Loads the real SmolLM2-135M-Instruct Q4_1 GGUF (Q8_0 embedding, Q4_1 matrices, F32 norms) when it is present.
/// Expected values come from Python's `gguf` package (GGUFReader + gguf.quants.dequantize, float32 numpy).
final class GGUFSmolLM2Tests: XCTestCase {
    private func modelFile() throws -> GGUFFile {
        try GGUFFile(path: RealInputs.smolLM2Path())
    }

    func testHeaderConfigAndTypes() throws {
        let file = try modelFile()
        XCTAssertEqual(file.architecture, "llama")
        XCTAssertEqual(file.tensors.count, 272)
        XCTAssertEqual(file.tensor(named: "token_embd.weight")?.type, .q8_0)
        XCTAssertEqual(file.tensor(named: "token_embd.weight")?.dimensions, [576, 49152])
        XCTAssertEqual(file.tensor(named: "blk.0.attn_k.weight")?.type, .q4_1)
        XCTAssertEqual(file.tensor(named: "blk.0.attn_k.weight")?.shape, [192, 576])
        XCTAssertEqual(file.tensor(named: "output_norm.weight")?.type, .f32)

        let config = try GGUFModel.config(of: file)
        XCTAssertEqual(config.layers, [LayerShape](repeating: LayerShape(heads: 9, kvHeads: 3, intermediate: 1536), count: 30))
        XCTAssertEqual(config.hidden, 576)
        XCTAssertEqual(config.headDim, 64)
        XCTAssertEqual(config.vocabSize, 49152)
        XCTAssertEqual(config.ropeTheta, 100000)
        XCTAssertEqual(config.rmsNormEps, 1e-5)
        XCTAssertEqual(config.maxPositions, 8192)
        XCTAssertTrue(config.tiedEmbeddings)
        XCTAssertNil(config.ropeScaling)
        XCTAssertEqual(config.parameters, 134_515_008)
    }

    func testTokenizer() throws {
        let file = try modelFile()
        let tokenizer = try XCTUnwrap(try GGUFTokenizer.read(from: file))
        XCTAssertEqual(tokenizer.vocabulary.count, 49152)
        XCTAssertEqual(tokenizer.merges.count, 48900)
        XCTAssertEqual(tokenizer.preTokenizer, .smollm)
        XCTAssertEqual(tokenizer.bosTokenId, 1)
        XCTAssertEqual(tokenizer.eosTokenId, 2)
        XCTAssertFalse(tokenizer.addBos)
        XCTAssertEqual(tokenizer.unkTokenId, 0)
        XCTAssertEqual(tokenizer.padTokenId, 2)
        XCTAssertEqual(tokenizer.vocabulary[1], "<|im_start|>")
        XCTAssertTrue(tokenizer.specialTokenIds.contains(2))
        XCTAssertTrue(tokenizer.chatTemplate?.hasPrefix("{% for message in messages %}") ?? false)
    }

    /// Dequantized values against numpy; attn_q/attn_k rows checked after un-permutation (HF row 32 is GGUF row 1).
    func testDequantizedValuesMatchPythonGGUF() throws {
        let file = try modelFile()
        let weights = try GGUFModel.weights(of: file)
        func assertRow(_ tensor: Tensor, row: Int, from column: Int, _ expected: [Float], line: UInt = #line) {
            let start = row * tensor.cols + column
            XCTAssertEqual(Array(tensor.data[start..<start + expected.count]), expected, line: line)
        }
        assertRow(weights.embedding, row: 0, from: 0, [-0.10654449462890625, 0.032978057861328125, 0.048198699951171875, -0.022830963134765625])
        assertRow(weights.embedding, row: 49151, from: 573, [0.12858200073242188, -0.11989402770996094, -0.0417022705078125])
        assertRow(weights.layers[0][.down]!, row: 0, from: 0, [-0.330810546875, 0.3460693359375, 0.0753173828125, -0.4661865234375])
        assertRow(weights.layers[0][.down]!, row: 575, from: 1534, [-0.0901336669921875, -0.181365966796875])
        assertRow(weights.layers[0][.q]!, row: 0, from: 0, [-0.0963134765625, 0.1573486328125, -0.0963134765625, -0.73046875])
        assertRow(weights.layers[0][.q]!, row: 1, from: 0, [-0.1591796875, 0.39794921875, -0.0198974609375, -1.2734375])
        assertRow(weights.layers[0][.q]!, row: 32, from: 0, [-0.1173095703125, -0.1173095703125, -0.19281005859375, 0.26019287109375])
        assertRow(weights.layers[0][.k]!, row: 33, from: 0, [-0.09912109375, 0.22955322265625, -0.2305908203125, -0.362060546875])
        XCTAssertEqual(Array(weights.layers[0][.attentionNorm]!.data.prefix(4)), [0.01397705078125, 0.0238037109375, -0.019775390625, -0.0302734375])
        XCTAssertEqual(Array(weights.finalNorm.data.prefix(2)), [1.7578125, 1.8203125])
        XCTAssertNil(weights.output)
    }
}
