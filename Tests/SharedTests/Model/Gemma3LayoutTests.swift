import XCTest
@testable import Shared

/// Gemma-3's layers differ in how they attend (sliding window and RoPE base); the config files carry that, depth
/// pruning keeps each remaining layer's own, and only the periodic layout goes to GGUF.
final class Gemma3LayoutTests: XCTestCase {
    /// config.json as transformers 5 saves Gemma3ForCausalLM (the 270m's values, 7 layers).
    static let configJSON = #"""
    {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": 262144, "hidden_size": 640,
     "intermediate_size": 2048, "num_hidden_layers": 7, "num_attention_heads": 4, "num_key_value_heads": 1,
     "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 32768,
     "rms_norm_eps": 1e-06, "query_pre_attn_scalar": 256, "sliding_window": 512, "tie_word_embeddings": true,
     "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
                     "sliding_attention", "full_attention", "sliding_attention"],
     "rope_parameters": {"full_attention": {"rope_theta": 1000000.0, "rope_type": "default"},
                         "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"}}}
    """#

    func testConfigReadsEachLayersAttentionAndRoundTrips() throws {
        let config = try HFConfig.parse(data: Data(Self.configJSON.utf8), file: "config.json")
        XCTAssertEqual(config.architecture, .gemma3)
        XCTAssertEqual(config.ropeTheta, 1_000_000)
        XCTAssertEqual(config.attention(layer: 5), LayerAttention(ropeTheta: 1_000_000))
        XCTAssertEqual(config.attention(layer: 6), LayerAttention(ropeTheta: 10000, window: 512))
        XCTAssertEqual(config.window(layer: 0), Attention.Window(scale: 1 / 16, size: 512))
        XCTAssertEqual(try HFConfig.parse(data: try HFConfig.encode(config), file: "written"), config)
    }

    func testMalformedLayerTypesAndRotaryFactorAreRefused() {
        let short = Self.configJSON.replacingOccurrences(of: #""sliding_attention", "full_attention", "sliding_attention"]"#,
                                                        with: #""sliding_attention", "full_attention"]"#)
        XCTAssertThrowsError(try HFConfig.parse(data: Data(short.utf8), file: "config.json")) { error in
            XCTAssertTrue("\(error)".contains("layer_types must list full_attention or sliding_attention for each of the 7 layers"), "\(error)")
        }
        let partial = Self.configJSON.replacingOccurrences(of: #""head_dim": 256,"#, with: #""head_dim": 256, "partial_rotary_factor": 1.5,"#)
        XCTAssertThrowsError(try HFConfig.parse(data: Data(partial.utf8), file: "config.json")) { error in
            XCTAssertTrue("\(error)".contains("partial_rotary_factor 1.5 is outside (0, 1]"), "\(error)")
        }
    }

    func testAnActivationOtherThanTheFamilysIsRefused() {
        let gelu = Self.configJSON.replacingOccurrences(of: "gelu_pytorch_tanh", with: "silu")
        XCTAssertThrowsError(try HFConfig.parse(data: Data(gelu.utf8), file: "config.json")) { error in
            XCTAssertTrue("\(error)".contains("unsupported hidden_activation silu"), "\(error)")
        }
    }

    /// Removing layers 0 and 1 moves the global layer from index 5 to 3; it keeps its base and stays global, and
    /// llama.cpp's period no longer describes the model, so GGUF is refused by name.
    func testDepthPruningKeepsEachLayersOwnAttention() throws {
        let config = try HFConfig.parse(data: Data(Self.configJSON.utf8), file: "config.json")
        let kept = (2..<7).map { KeptLayer(index: $0, heads: [0, 1, 2, 3], kvHeads: [0], neurons: Array(0..<2048)) }
        let pruned = PruningStructure(originalLayers: 7, path: "L", layers: kept).config(of: config)
        XCTAssertEqual(pruned.layers.count, 5)
        XCTAssertEqual(pruned.attention(layer: 3), LayerAttention(ropeTheta: 1_000_000))
        XCTAssertEqual(pruned.attention(layer: 4), LayerAttention(ropeTheta: 10000, window: 512))
        XCTAssertNil(Architecture.gemma3.ggufWriteName(pruned))
        XCTAssertEqual(Architecture.gemma3.ggufWriteName(config), "gemma3")
    }

    /// A tiny Gemma-3 through GGUF: norms stored as 1 + w (read back as w), sliding window and local base written,
    /// the same weights back.
    func testGGUFStoresNormsPlusOneAndRoundTrips() throws {
        var config = TinyConfigs.gemma3
        config.layerAttention = (0..<3).map { _ in LayerAttention(ropeTheta: 10000, window: 3) }
        config.layers = [LayerShape](repeating: config.layers[0], count: 3)
        config.attentionScale = nil
        // Layers 0..<5 slide and layer 5 is global in the period of 6; three layers all slide.
        let weights = ModelWeights.random(config: config, seed: 5)
        let path = try SafetensorsTestSupport.temporaryDirectory(self) + "/gemma.gguf"
        try GGUFWriter.write(weights: weights, tokenizer: nil, to: path, type: .f32)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.metadata["gemma3.attention.sliding_window"], .uint32(3))
        XCTAssertEqual(file.metadata["gemma3.rope.freq_base_swa"], .float32(10000))
        let info = try XCTUnwrap(file.tensor(named: "blk.0.attn_q_norm.weight"))
        XCTAssertEqual(try file.dequantize(info).data, weights.layers[0][.qNorm]!.data.map { $0 + 1 })
        let read = try GGUFModel.weights(of: file, storage: .fp32)
        XCTAssertEqual(read.config, config)
        XCTAssertLessThan(relativeError(read.layers[2][.postMLPNorm]!.data, weights.layers[2][.postMLPNorm]!.data.map(Double.init)), 1e-6)
        let logits = Transformer(weights: read).logits([3, 1, 4, 1, 5])
        XCTAssertLessThan(relativeError(logits.data, Transformer(weights: weights).logits([3, 1, 4, 1, 5]).data.map(Double.init)), 1e-5)
    }
}
