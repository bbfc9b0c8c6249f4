import XCTest
@testable import Shared

/// `GGUFWriter.MatrixType.tensorTypes` against llama.cpp's `llama_tensor_get_type` worked out by hand for small
/// models (scripts/check-kquant.py compares whole real exports with llama.cpp's quantizer).
final class GGUFMixtureTests: XCTestCase {
    /// A dense model's GGUF tensors: `layers` blocks of width `hidden`, `neurons` per layer, untied unless `tied`.
    private func model(layers: Int, hidden: Int = 512, neurons: (Int) -> Int = { _ in 1024 }, tied: Bool = false)
        -> (names: [String], shapes: [[Int]]) {
        var names = ["token_embd.weight"], shapes = [[1000, hidden]]
        for i in 0..<layers {
            for (name, shape) in [("attn_norm.weight", [hidden]), ("attn_q.weight", [hidden, hidden]), ("attn_k.weight", [128, hidden]),
                                  ("attn_v.weight", [128, hidden]), ("attn_output.weight", [hidden, hidden]), ("ffn_norm.weight", [hidden]),
                                  ("ffn_gate.weight", [neurons(i), hidden]), ("ffn_up.weight", [neurons(i), hidden]),
                                  ("ffn_down.weight", [hidden, neurons(i)])] {
                names.append("blk.\(i).\(name)")
                shapes.append(shape)
            }
        }
        names.append("output_norm.weight"); shapes.append([hidden])
        if !tied { names.append("output.weight"); shapes.append([1000, hidden]) }
        return (names, shapes)
    }

    private func types(_ type: GGUFWriter.MatrixType, _ m: (names: [String], shapes: [[Int]]), layers: Int,
                       seventyB: Bool = false, importance: Bool = false) -> [String: GGUFTensorType] {
        Dictionary(uniqueKeysWithValues: zip(m.names, type.tensorTypes(names: m.names, shapes: m.shapes, layers: layers,
                                                                        seventyB: seventyB, hasImportance: importance)))
    }

    /// 8 layers: use_more_bits(i, 8) is i < 1 || i >= 7 || (i - 1) % 3 == 2, so layers 0, 3, 6 and 7.
    func testQ4_K_MPromotesAttnVAndFFNDownInTheMoreBitsLayers() {
        let t = types(.q4_k_m, model(layers: 8), layers: 8)
        for i in 0..<8 {
            let promoted: GGUFTensorType = [0, 3, 6, 7].contains(i) ? .q6_K : .q4_K
            XCTAssertEqual(t["blk.\(i).attn_v.weight"], promoted, "layer \(i)")
            XCTAssertEqual(t["blk.\(i).ffn_down.weight"], promoted, "layer \(i)")
            XCTAssertEqual(t["blk.\(i).attn_q.weight"], .q4_K)
            XCTAssertEqual(t["blk.\(i).ffn_up.weight"], .q4_K)
            XCTAssertEqual(t["blk.\(i).attn_norm.weight"], .f32)
        }
        XCTAssertEqual(t["output.weight"], .q6_K)
        XCTAssertEqual(t["token_embd.weight"], .q4_K)  // untied: the base type
        XCTAssertEqual(t["output_norm.weight"], .f32)
        XCTAssertEqual(types(.q5_k_m, model(layers: 8), layers: 8)["blk.2.attn_v.weight"], .q5_K)
        XCTAssertEqual(types(.q5_k_m, model(layers: 8), layers: 8)["blk.3.ffn_down.weight"], .q6_K)
    }

    /// llama.cpp counts attn_v tensors in its loader's order: by layer number, so blk.10 comes after blk.9 (not
    /// after blk.1 as names sort); with 16 layers use_more_bits picks 0, 1, 4, 7, 10, 13, 14, 15.
    func testLayersCountInNumericOrderWhateverTheInputOrder() {
        var m = model(layers: 16)
        let order = m.names.indices.reversed()
        m = (order.map { m.names[$0] }, order.map { m.shapes[$0] })
        let t = types(.q4_k_m, m, layers: 16)
        XCTAssertEqual((0..<16).filter { t["blk.\($0).attn_v.weight"] == .q6_K }, [0, 1, 4, 7, 10, 13, 14, 15])
    }

    func testQ4_K_SAndTiedEmbeddings() {
        let t = types(.q4_k_s, model(layers: 16, tied: true), layers: 16)
        XCTAssertEqual((0..<16).filter { t["blk.\($0).attn_v.weight"] == .q5_K }, [0, 1, 2, 3])
        XCTAssertEqual((0..<16).filter { t["blk.\($0).ffn_down.weight"] == .q5_K }, [0, 1])
        XCTAssertEqual(t["token_embd.weight"], .q6_K)  // tied: the output's type
        XCTAssertNil(t["output.weight"])
        // Q8_0 keeps the tied embedding Q8_0; Q4_0 gives it Q6_K.
        XCTAssertEqual(types(.q8_0, model(layers: 4, tied: true), layers: 4)["token_embd.weight"], .q8_0)
        XCTAssertEqual(types(.q4_0, model(layers: 4, tied: true), layers: 4)["token_embd.weight"], .q6_K)
    }

    /// Rows that are not whole super-blocks: Q4_K -> Q5_0, Q6_K -> Q8_0, Q5_K -> Q5_1, not whole 32-blocks -> F16;
    /// an output whose rows are not whole blocks of the base type is Q8_0.
    func testFallbacksForPrunedWidths() {
        let m = model(layers: 8, hidden: 576, neurons: { [1536, 1000, 1499, 768, 1536, 1536, 1536, 1536][$0] })
        let t = types(.q4_k_m, m, layers: 8)
        XCTAssertEqual(t["blk.1.attn_q.weight"], .q5_0)       // 576 = 18 blocks of 32, not whole 256s
        XCTAssertEqual(t["blk.0.ffn_down.weight"], .q6_K)     // 1536 = 6 x 256, a more-bits layer
        XCTAssertEqual(t["blk.3.ffn_down.weight"], .q6_K)     // 768 = 3 x 256, a more-bits layer
        XCTAssertEqual(t["blk.4.ffn_down.weight"], .q4_K)     // 1536, an ordinary layer
        XCTAssertEqual(t["blk.0.attn_v.weight"], .q8_0)       // Q6_K, but 576 is not whole 256s
        XCTAssertEqual(t["blk.1.ffn_down.weight"], .f16)      // Q4_K -> Q5_0, but 1000 is not whole 32s either
        XCTAssertEqual(t["blk.2.ffn_down.weight"], .f16)      // 1499: not whole 32-blocks
        XCTAssertEqual(t["output.weight"], .q8_0)             // 576 % 256 != 0
        XCTAssertEqual(types(.q5_k_m, m, layers: 8)["blk.1.attn_q.weight"], .q5_1)
        XCTAssertEqual(types(.q6_k, m, layers: 8)["blk.1.attn_q.weight"], .q8_0)
        XCTAssertEqual(types(.q8_0, m, layers: 8)["blk.2.ffn_down.weight"], .f16)
        XCTAssertEqual(types(.f16, m, layers: 8)["blk.2.ffn_down.weight"], .f16)
        XCTAssertEqual(types(.bf16, m, layers: 8)["output.weight"], .bf16)
    }

    func testSeventyBAndImportanceRules() {
        let t = types(.q4_k_m, model(layers: 8), layers: 8, seventyB: true)
        XCTAssertEqual(t["blk.1.attn_v.weight"], .q5_K)
        XCTAssertEqual(t["blk.0.attn_v.weight"], .q6_K)
        XCTAssertEqual(t["blk.1.ffn_down.weight"], .q4_K)
        // Q4_0 / Q5_0 with an importance: the first eighth of ffn_down in Q4_1 / Q5_1.
        let q4 = types(.q4_0, model(layers: 16), layers: 16, importance: true)
        XCTAssertEqual((0..<16).filter { q4["blk.\($0).ffn_down.weight"] == .q4_1 }, [0, 1])
        XCTAssertEqual(types(.q5_0, model(layers: 16), layers: 16, importance: true)["blk.1.ffn_down.weight"], .q5_1)
        XCTAssertEqual(types(.q4_0, model(layers: 16), layers: 16)["blk.1.ffn_down.weight"], .q4_0)
    }

    func testFileTypesRoundTrip() {
        for type in GGUFWriter.MatrixType.allCases { XCTAssertEqual(GGUFWriter.MatrixType(fileType: type.fileType), type) }
        XCTAssertEqual(GGUFWriter.MatrixType.q4_k_m.fileType, 15)
        XCTAssertNil(GGUFWriter.MatrixType(fileType: 12))  // Q3_K_M: not written
    }
}
