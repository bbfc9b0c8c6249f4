import XCTest
@testable import Shared

/// The tiny LLaVA-1.5 transformers made (scripts/make-llava-fixture.py), its weights written at run time from the
/// fixture formula under each key layout in use: its language model reads as a LLaMA whose logits equal transformers'.
final class LlavaContainerTests: XCTestCase {
    /// The rule for save_pretrained's names is what transformers 5.25 wrote.
    func testSavedLayoutIsWhatTransformersWrote() throws {
        let reference = try LlavaFixture.reference()
        XCTAssertEqual(reference.tensors.map { LlavaFixture.layouts[1].rename($0.name) }.sorted(), reference.saved_names)
    }

    /// Every layout: a LLaMA of the text config's shape whose text-only logits equal transformers'.
    func testLanguageModelLogitsEqualTransformersInEveryLayout() throws {
        let reference = try LlavaFixture.reference()
        for layout in LlavaFixture.layouts {
            let path = try LlavaFixture.directory(self, reference, rename: layout.rename)
            let weights = try HFModelDirectory.load(path: path, storage: .fp32)
            XCTAssertEqual(weights.config.architecture, .llama, layout.name)
            XCTAssertEqual(weights.config.layers.count, 2, layout.name)
            XCTAssertEqual(weights.config.vocabSize, 400, layout.name)
            let logits = Transformer(weights: weights).logits(reference.text.tokens)
            XCTAssertLessThan(relativeError(logits.data, Array(reference.text.logits.joined())), 1e-4, layout.name)
            XCTAssertEqual(try ModelLoader.describe(path: path).config, weights.config, layout.name)
        }
    }

    /// A tensor stored twice under two layouts, and a tensor of no layout, are refused by name.
    func testMixedDuplicatesAndStrayTensorsAreRefused() throws {
        let reference = try LlavaFixture.reference()
        let norm = Tensor(shape: [48], data: [Float](repeating: 1, count: 48))
        let twice = try LlavaFixture.directory(self, reference, rename: { $0 }, extra: [("language_model.model.norm.weight", norm)])
        XCTAssertThrowsError(try HFModelDirectory.load(path: twice, storage: .fp32)) { error in
            XCTAssertTrue("\(error)".contains("model.norm.weight") && "\(error)".contains("twice"), "\(error)")
        }
        let stray = try LlavaFixture.directory(self, reference, rename: { $0 }, extra: [("model.layers.0.input_layernorm.weight", norm)])
        XCTAssertThrowsError(try HFModelDirectory.load(path: stray, storage: .fp32)) { error in
            XCTAssertTrue("\(error)".contains("does not account for"), "\(error)")
        }
    }

    /// llava-1.5-7b-hf's config.json states only a few keys of its Vicuna; the others are LlamaConfig's defaults.
    func testSparseTextConfigTakesLlamaDefaults() throws {
        let json = """
        {"model_type": "llava", "image_token_index": 32000, "projector_hidden_act": "gelu",
         "text_config": {"model_type": "llama", "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "vocab_size": 32064,
                         "architectures": ["LlamaForCausalLM"]},
         "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024}}
        """
        let config = try HFConfig.parse(data: Data(json.utf8), file: "config.json")
        XCTAssertEqual(config.architecture, .llama)
        XCTAssertEqual(config.vocabSize, 32064)
        XCTAssertEqual(config.hidden, 4096)
        XCTAssertEqual(config.layers, [LayerShape](repeating: LayerShape(heads: 32, kvHeads: 32, intermediate: 11008), count: 32))
        XCTAssertEqual(config.maxPositions, 4096)
        XCTAssertEqual(config.rmsNormEps, 1e-5)
        XCTAssertThrowsError(try HFConfig.parse(data: Data(#"{"model_type": "llava"}"#.utf8), file: "config.json")) { error in
            XCTAssertTrue("\(error)".contains("text_config"), "\(error)")
        }
    }
}
