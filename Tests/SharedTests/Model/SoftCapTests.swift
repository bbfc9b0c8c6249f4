import Foundation
import XCTest
@testable import Shared

/// The final logit soft-cap: the operation against tanh in float64 and central differences, the head applying it
/// (every pass, training included, runs `TinyConfigs.gemma3Capped` through the suite's float64 references), and the
/// config keys: honoured where the family's class applies them, refused where it would not or mop cannot.
final class SoftCapTests: XCTestCase {
    func testForwardIsCapTimesTanhAndBackwardMatchesCentralDifferences() {
        let cap: Float = 2.5, count = 53
        let x = randomFloats(count, scale: 8, seed: 61), dy = randomFloats(count, seed: 62)
        var y = x
        y.withUnsafeMutableBufferPointer { SoftCap.forward($0.baseAddress!, count: count, cap: cap) }
        let reference = { (xs: [Double]) in xs.map { Double(cap) * tanh($0 / Double(cap)) } }
        XCTAssertLessThan(relativeError(y, reference(x.map(Double.init))), 1e-6)
        XCTAssertTrue(y.allSatisfy { abs($0) <= cap }, "bounded by the cap")
        XCTAssertGreaterThan(zip(x, y).map { abs($0 - $1) }.max()!, 1, "inputs past the cap are bent")

        var dx = dy
        y.withUnsafeBufferPointer { out in dx.withUnsafeMutableBufferPointer { SoftCap.backward(output: out.baseAddress!, dy: $0.baseAddress!, count: count, cap: cap) } }
        let numeric = numericGradient(x.map(Double.init)) { xs in zip(reference(xs), dy).reduce(0) { $0 + $1.0 * Double($1.1) } }
        XCTAssertLessThan(relativeError(dx, numeric), 1e-4)
    }

    /// The head caps what the product gives, and the tiny capped model's logits reach past the cap without it (so
    /// the suite's capped runs check the cap).
    func testHeadCapsTheLogits() {
        let weights = ModelWeights.random(config: TinyConfigs.gemma3Capped, seed: 7)
        var uncapped = weights
        uncapped.config.finalLogitSoftCap = nil
        let tokens = TinyConfigs.tokens(count: 9, vocab: weights.config.vocabSize, seed: 3)
        let capped = Transformer(weights: weights).logits(tokens).data
        let plain = Transformer(weights: uncapped).logits(tokens).data.map(Double.init)
        XCTAssertGreaterThan(plain.map(abs).max()!, 1.5 * 0.8)
        XCTAssertLessThan(relativeError(capped, plain.map { 0.8 * tanh($0 / 0.8) }), 1e-6)
    }

    func testConfigJSONKeys() throws {
        let text = Gemma3LayoutTests.configJSON.replacingOccurrences(of: #""head_dim": 256,"#,
                                                                     with: #""head_dim": 256, "final_logit_softcapping": 30.0,"#)
        let config = try HFConfig.parse(data: Data(text.utf8), file: "config.json")
        XCTAssertEqual(config.finalLogitSoftCap, 30)
        let written = try XCTUnwrap(try JSONSerialization.jsonObject(with: try HFConfig.encode(config)) as? [String: Any])
        XCTAssertEqual(written["final_logit_softcapping"] as? Double, 30)
        XCTAssertEqual(try HFConfig.parse(data: try HFConfig.encode(config), file: "written"), config)
        XCTAssertNil(Architecture.gemma3.ggufWriteName(config), "llama.cpp's gemma3 graph does not cap: Hugging Face files only")

        let null = Gemma3LayoutTests.configJSON.replacingOccurrences(of: #""head_dim": 256,"#,
                                                                     with: #""head_dim": 256, "final_logit_softcapping": null,"#)
        XCTAssertNil(try HFConfig.parse(data: Data(null.utf8), file: "config.json").finalLogitSoftCap)

        let attention = Gemma3LayoutTests.configJSON.replacingOccurrences(of: #""head_dim": 256,"#,
                                                                          with: #""head_dim": 256, "attn_logit_softcapping": 50.0,"#)
        SafetensorsTestSupport.assertMopError(try HFConfig.parse(data: Data(attention.utf8), file: "config.json"), path: "config.json",
                                              phrase: "attn_logit_softcapping is 50.0; attention-logit soft-capping is not supported")
        let llama = HFConfigTests.smolLM2.replacingOccurrences(of: #""mlp_bias": false,"#, with: #""final_logit_softcapping": 30.0,"#)
        SafetensorsTestSupport.assertMopError(try HFConfig.parse(data: Data(llama.utf8), file: "config.json"), path: "config.json",
                                              phrase: "final_logit_softcapping is 30.0, but LlamaForCausalLM does not cap logits")
    }

    /// A Gemma GGUF's `final_logit_softcapping` is read (0 is llama.cpp's "none"); an attention cap is refused.
    func testGGUFKeys() throws {
        var config = TinyConfigs.gemma3
        config.layerAttention = (0..<3).map { _ in LayerAttention(ropeTheta: 10000, window: 3) }
        config.attentionScale = nil
        let directory = try SafetensorsTestSupport.temporaryDirectory(self)
        try GGUFWriter.write(weights: .random(config: config, seed: 5), tokenizer: nil, to: directory + "/plain.gguf", type: .f32)
        let plain = try GGUFFile(path: directory + "/plain.gguf")
        func withKeys(_ extra: [(String, GGUFValue)], _ name: String) throws -> GGUFFile {
            let tensors = plain.tensors.map {
                (name: $0.name, dims: $0.dimensions.map(UInt64.init), type: $0.type.rawValue, offset: UInt64($0.offset - plain.dataOffset))
            }
            let bytes = GGUFHandBuilt.file(metadata: plain.metadataKeys.map { ($0, plain.metadata[$0]!) } + extra, tensors: tensors,
                                           dataBytes: plain.tensors.map { $0.offset + $0.byteCount }.max()! - plain.dataOffset)
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
            return try GGUFFile(path: directory + "/" + name)
        }
        XCTAssertNil(try GGUFModel.config(of: plain).finalLogitSoftCap)
        XCTAssertEqual(try GGUFModel.config(of: try withKeys([("gemma3.final_logit_softcapping", .float32(30))], "capped.gguf")).finalLogitSoftCap, 30)
        XCTAssertNil(try GGUFModel.config(of: try withKeys([("gemma3.final_logit_softcapping", .float32(0))], "zero.gguf")).finalLogitSoftCap)
        let attention = try withKeys([("gemma3.attn_logit_softcapping", .float32(50))], "attention.gguf")
        assertMopError(attention.path, "gemma3.attn_logit_softcapping is 50.0; attention-logit soft-capping is not supported") {
            try GGUFModel.config(of: attention)
        }
    }
}
