import Foundation
import XCTest
@testable import Shared

final class HFConfigTests: XCTestCase {
    typealias Support = SafetensorsTestSupport
    let path = "/models/x/config.json"

    /// HuggingFaceTB/SmolLM2-135M-Instruct's config.json as published on the hub.
    static let smolLM2 = """
    {
      "architectures": ["LlamaForCausalLM"],
      "attention_bias": false,
      "attention_dropout": 0.0,
      "bos_token_id": 1,
      "eos_token_id": 2,
      "hidden_act": "silu",
      "hidden_size": 576,
      "initializer_range": 0.041666666666666664,
      "intermediate_size": 1536,
      "is_llama_config": true,
      "max_position_embeddings": 8192,
      "mlp_bias": false,
      "model_type": "llama",
      "num_attention_heads": 9,
      "num_hidden_layers": 30,
      "num_key_value_heads": 3,
      "pad_token_id": 2,
      "pretraining_tp": 1,
      "rms_norm_eps": 1e-05,
      "rope_interleaved": false,
      "rope_scaling": null,
      "rope_theta": 100000,
      "tie_word_embeddings": true,
      "torch_dtype": "bfloat16",
      "transformers.js_config": {"kv_cache_dtype": {"q4f16": "float16", "fp16": "float16"}},
      "transformers_version": "4.42.3",
      "use_cache": true,
      "vocab_size": 49152
    }
    """

    private func parse(_ text: String) throws -> ModelConfig {
        try HFConfig.parse(data: Data(text.utf8), file: path)
    }

    private func object(_ data: Data) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testParsesSmolLM2Config() throws {
        let config = try parse(Self.smolLM2)
        XCTAssertEqual(config.vocabSize, 49152)
        XCTAssertEqual(config.hidden, 576)
        XCTAssertEqual(config.headDim, 64)
        XCTAssertEqual(config.layers, [LayerShape](repeating: LayerShape(heads: 9, kvHeads: 3, intermediate: 1536), count: 30))
        XCTAssertEqual(config.rmsNormEps, 1e-5)
        XCTAssertEqual(config.ropeTheta, 100000)
        XCTAssertNil(config.ropeScaling)
        XCTAssertTrue(config.tiedEmbeddings)
        XCTAssertEqual(config.maxPositions, 8192)
        // The published parameter count of SmolLM2-135M.
        XCTAssertEqual(config.parameters, 134_515_008)
        XCTAssertEqual(try HFConfig.parseSpecialTokens(data: Data(Self.smolLM2.utf8), file: path), HFSpecialTokenIds(bos: 1, eos: [2]))
    }

    func testParsesLlama3StyleRopeScalingAndEosList() throws {
        let text = """
        {"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192,
         "num_hidden_layers": 2, "num_attention_heads": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
         "rope_theta": 500000.0, "max_position_embeddings": 131072, "tie_word_embeddings": true,
         "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
         "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                          "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
        """
        let config = try parse(text)
        XCTAssertEqual(config.headDim, 64)
        XCTAssertEqual(config.layers[1], LayerShape(heads: 32, kvHeads: 8, intermediate: 8192))
        XCTAssertEqual(config.ropeTheta, 500000)
        XCTAssertEqual(config.ropeScaling, RopeScaling(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192))
        XCTAssertEqual(try HFConfig.parseSpecialTokens(data: Data(text.utf8), file: path), HFSpecialTokenIds(bos: 128000, eos: [128001, 128008, 128009]))
    }

    func testDefaultsFollowLlamaConfig() throws {
        let config = try parse(#"{"model_type": "mistral", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4}"#)
        XCTAssertEqual(config.layers, [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 4, intermediate: 96), count: 2))
        XCTAssertEqual(config.headDim, 16)
        XCTAssertEqual(config.rmsNormEps, 1e-6)
        XCTAssertEqual(config.ropeTheta, 10000)
        XCTAssertFalse(config.tiedEmbeddings)
        XCTAssertEqual(config.maxPositions, 2048)
        XCTAssertEqual(try HFConfig.parseSpecialTokens(data: Data(#"{"bos_token_id": null}"#.utf8), file: path), HFSpecialTokenIds())
    }

    func testNestedRopeParametersAreRead() throws {
        let config = try parse(#"{"model_type": "llama", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 1, "rope_parameters": {"rope_theta": 250000.0, "rope_type": "default"}}"#)
        XCTAssertEqual(config.ropeTheta, 250000)
        XCTAssertNil(config.ropeScaling)
        XCTAssertEqual(config.layers[0].kvHeads, 1)
    }

    func testUniformRoundTripWritesPlainLlamaKeys() throws {
        let original = ModelConfig(vocabSize: 49152, hidden: 576, headDim: 64,
                                   layers: [LayerShape](repeating: LayerShape(heads: 9, kvHeads: 3, intermediate: 1536), count: 30),
                                   rmsNormEps: 1e-5, ropeTheta: 100000, tiedEmbeddings: true, maxPositions: 8192)
        let data = try HFConfig.encode(original, specialTokens: HFSpecialTokenIds(bos: 1, eos: [2]), dtype: .bf16)
        XCTAssertEqual(try HFConfig.parse(data: data, file: path), original)
        XCTAssertEqual(try HFConfig.parseSpecialTokens(data: data, file: path), HFSpecialTokenIds(bos: 1, eos: [2]))

        let json = try object(data)
        XCTAssertEqual(json["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(json["model_type"] as? String, "llama")
        XCTAssertEqual(json["num_attention_heads"] as? Int, 9)
        XCTAssertEqual(json["num_key_value_heads"] as? Int, 3)
        XCTAssertEqual(json["intermediate_size"] as? Int, 1536)
        XCTAssertEqual(json["head_dim"] as? Int, 64)
        XCTAssertEqual(json["torch_dtype"] as? String, "bfloat16")
        XCTAssertTrue(json["rope_scaling"] is NSNull)
        XCTAssertFalse(json.keys.contains { $0.hasSuffix("_per_layer") })
        // Shortest decimal forms, pretty-printed with sorted keys, so the file is stable and readable.
        let text = try XCTUnwrap(String(data: data, encoding: .utf8))
        XCTAssertTrue(text.contains("1e-05"), text)
        XCTAssertTrue(text.contains("\n"))
        XCTAssertLessThan(try XCTUnwrap(text.range(of: "\"architectures\"")).lowerBound, try XCTUnwrap(text.range(of: "\"vocab_size\"")).lowerBound)
        XCTAssertEqual(try HFConfig.encode(original, specialTokens: HFSpecialTokenIds(bos: 1, eos: [2]), dtype: .bf16), data)
    }

    /// Qwen2.5-Coder-1.5B-Instruct's config.json as published (keys mop does not use included).
    static let qwen25 = """
    {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
     "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02, "intermediate_size": 8960,
     "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 12,
     "num_hidden_layers": 28, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": null,
     "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
     "transformers_version": "4.43.1", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936}
    """

    func testParsesQwen25ConfigAndWritesQwen2Keys() throws {
        let config = try parse(Self.qwen25)
        XCTAssertEqual(config.architecture, .qwen2)
        XCTAssertEqual(config.layers, [LayerShape](repeating: LayerShape(heads: 12, kvHeads: 2, intermediate: 8960), count: 28))
        XCTAssertEqual(config.headDim, 128)
        XCTAssertEqual(config.ropeTheta, 1_000_000)
        XCTAssertTrue(config.tiedEmbeddings)
        // 1.54B as published: biases are 12*128 + 2*2*128 = 2,048 per block.
        XCTAssertEqual(config.parameters, 1_543_714_304)
        XCTAssertEqual(config.blockParameters(config.layers[0]) - Architecture.llama.blockTensors.reduce(0) { total, tensor in
            total + tensor.shape(config.layers[0], hidden: 1536, headDim: 128).reduce(1, *) }, 2048)

        let data = try HFConfig.encode(config)
        XCTAssertEqual(try HFConfig.parse(data: data, file: path), config)
        let json = try object(data)
        XCTAssertEqual(json["architectures"] as? [String], ["Qwen2ForCausalLM"])
        XCTAssertEqual(json["model_type"] as? String, "qwen2")
        XCTAssertEqual(json["use_sliding_window"] as? Bool, false)
        XCTAssertNil(json["attention_bias"], "Qwen2Config has no attention_bias key; its biases are fixed")
    }

    func testAttentionBiasThatContradictsTheFamilyFails() {
        let unbiased = Self.qwen25.replacingOccurrences(of: #""attention_dropout": 0.0"#, with: #""attention_bias": false"#)
        Support.assertMopError(try parse(unbiased), path: path, phrase: "attention_bias is false but qwen2 models have q/k/v biases")
        let sliding = Self.qwen25.replacingOccurrences(of: #""use_sliding_window": false"#, with: #""use_sliding_window": true"#)
        Support.assertMopError(try parse(sliding), path: path, phrase: "use_sliding_window is true")
    }

    func testNonUniformRoundTripWritesPerLayerArrays() throws {
        let layers = [LayerShape(heads: 8, kvHeads: 4, intermediate: 100), LayerShape(heads: 6, kvHeads: 2, intermediate: 37),
                      LayerShape(heads: 3, kvHeads: 3, intermediate: 1)]
        let original = ModelConfig(vocabSize: 300, hidden: 64, headDim: 8, layers: layers, rmsNormEps: 1e-6, ropeTheta: 500000,
                                   ropeScaling: RopeScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192),
                                   tiedEmbeddings: false, maxPositions: 4096)
        let data = try HFConfig.encode(original, specialTokens: HFSpecialTokenIds(eos: [5, 6]))
        XCTAssertEqual(try HFConfig.parse(data: data, file: path), original)
        XCTAssertEqual(try HFConfig.parseSpecialTokens(data: data, file: path), HFSpecialTokenIds(eos: [5, 6]))
        let json = try object(data)
        XCTAssertEqual(json["num_attention_heads_per_layer"] as? [Int], [8, 6, 3])
        XCTAssertEqual(json["num_key_value_heads_per_layer"] as? [Int], [4, 2, 3])
        XCTAssertEqual(json["intermediate_size_per_layer"] as? [Int], [100, 37, 1])
        XCTAssertEqual(json["num_attention_heads"] as? Int, 8)
        XCTAssertEqual(json["intermediate_size"] as? Int, 100)
        XCTAssertEqual((json["rope_scaling"] as? [String: Any])?["rope_type"] as? String, "llama3")
    }

    func testPerLayerArraysTakePrecedenceOverScalars() throws {
        let config = try parse(#"{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "head_dim": 2, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 16, "num_attention_heads_per_layer": [4, 2], "intermediate_size_per_layer": [16, 5]}"#)
        XCTAssertEqual(config.layers, [LayerShape(heads: 4, kvHeads: 2, intermediate: 16), LayerShape(heads: 2, kvHeads: 2, intermediate: 5)])
    }

    // MARK: malformed config.json, one problem each

    func testMissingHiddenSizeFails() {
        Support.assertMopError(try parse(#"{"model_type": "llama", "vocab_size": 10, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}"#),
                               path: path, phrase: "key hidden_size is missing")
    }

    func testMissingModelTypeFails() {
        Support.assertMopError(try parse(#"{"vocab_size": 10}"#), path: path, phrase: "key model_type is missing")
    }

    func testStringWhereANumberBelongsFails() {
        let text = Self.smolLM2.replacingOccurrences(of: #""hidden_size": 576"#, with: #""hidden_size": "576""#)
        Support.assertMopError(try parse(text), path: path, phrase: "key hidden_size must be an integer, found a string")
        let eps = Self.smolLM2.replacingOccurrences(of: #""rms_norm_eps": 1e-05"#, with: #""rms_norm_eps": "1e-05""#)
        Support.assertMopError(try parse(eps), path: path, phrase: "key rms_norm_eps must be a number, found a string")
        let tied = Self.smolLM2.replacingOccurrences(of: #""tie_word_embeddings": true"#, with: #""tie_word_embeddings": 1"#)
        Support.assertMopError(try parse(tied), path: path, phrase: "key tie_word_embeddings must be true or false")
        let layers = Self.smolLM2.replacingOccurrences(of: #""num_hidden_layers": 30"#, with: #""num_hidden_layers": 2.5"#)
        Support.assertMopError(try parse(layers), path: path, phrase: "key num_hidden_layers must be an integer, found 2.5")
    }

    func testOutOfRangeSizesFail() {
        let huge = Self.smolLM2.replacingOccurrences(of: #""hidden_size": 576"#, with: #""hidden_size": 1000000000000"#)
        Support.assertMopError(try parse(huge), path: path, phrase: "key hidden_size = 1000000000000 is out of range")
        let negative = Self.smolLM2.replacingOccurrences(of: #""num_hidden_layers": 30"#, with: #""num_hidden_layers": -3"#)
        Support.assertMopError(try parse(negative), path: path, phrase: "key num_hidden_layers = -3 is out of range")
        let zeroHeads = Self.smolLM2.replacingOccurrences(of: #""num_attention_heads": 9"#, with: #""num_attention_heads": 0"#)
        Support.assertMopError(try parse(zeroHeads), path: path, phrase: "key num_attention_heads = 0 is out of range 1...4096")
    }

    func testUnsupportedModelTypeFails() {
        let text = Self.smolLM2.replacingOccurrences(of: #""model_type": "llama""#, with: #""model_type": "gpt2""#)
        Support.assertMopError(try parse(text), path: path, phrase: "unsupported model_type gpt2")
    }

    func testUnsupportedRopeScalingFails() {
        let text = Self.smolLM2.replacingOccurrences(of: #""rope_scaling": null"#, with: #""rope_scaling": {"type": "yarn", "factor": 4.0}"#)
        Support.assertMopError(try parse(text), path: path, phrase: "unsupported rope scaling type yarn")
        let incomplete = Self.smolLM2.replacingOccurrences(of: #""rope_scaling": null"#, with: #""rope_scaling": {"rope_type": "llama3", "factor": 4.0}"#)
        Support.assertMopError(try parse(incomplete), path: path, phrase: "key rope_scaling.low_freq_factor is missing")
    }

    func testPerLayerArrayOfWrongLengthFails() {
        let text = Self.smolLM2.replacingOccurrences(of: #""num_hidden_layers": 30"#, with: #""num_hidden_layers": 30, "intermediate_size_per_layer": [5, 6]"#)
        Support.assertMopError(try parse(text), path: path, phrase: "key intermediate_size_per_layer has 2 entries, expected 30")
    }

    func testHeadsThatDoNotGroupFail() {
        let text = Self.smolLM2.replacingOccurrences(of: #""num_key_value_heads": 3"#, with: #""num_key_value_heads": 2"#)
        Support.assertMopError(try parse(text), path: path, phrase: "9 query heads do not divide into 2 KV groups")
    }

    func testLlamaWithAttentionBiasIsRefused() {
        let text = Self.smolLM2.replacingOccurrences(of: #""attention_bias": false"#, with: #""attention_bias": true"#)
        Support.assertMopError(try parse(text), path: path, phrase: "attention_bias is true")
    }

    func testConfigThatIsNotJSONFails() {
        Support.assertMopError(try parse("model_type = llama"), path: path, phrase: "not valid JSON")
    }
}
