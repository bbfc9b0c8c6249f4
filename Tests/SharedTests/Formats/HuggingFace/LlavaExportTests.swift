import XCTest
@testable import Shared

/// A pruned tiny LLaVA written back as a LLaVA checkpoint (`LlavaExport`): its language model sliced as transformers
/// sliced it (scripts/make-llava-fixture.py), every vision and projector tensor byte for byte the original's, the
/// processor and tokenizer files carried, and its logits, text-only and with the image, transformers' of the sliced model.
final class LlavaExportTests: XCTestCase {
    struct Pruned: Decodable {
        struct Part: Decodable {
            let heads: [Int]
            let kv_heads: [Int]
            let neurons: [Int]
            let text_logits: [[Double]]
            let image_logits: [[Double]]
        }
        let pruned: Part
    }

    /// Each tensor's raw bytes in a safetensors file, by name.
    static func rawTensors(_ path: String) throws -> [String: Data] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        var tensors: [String: Data] = [:]
        for (name, value) in header where name != "__metadata__" {
            let offsets = try XCTUnwrap((value as? [String: Any])?["data_offsets"] as? [Int])
            tensors[name] = data.subdata(in: (8 + length + offsets[0])..<(8 + length + offsets[1]))
        }
        return tensors
    }

    func testPrunedLlavaIsWrittenBackAsLlava() throws {
        let reference = try LlavaFixture.reference()
        let pruned = try JSONDecoder().decode(Pruned.self, from: Data(contentsOf: LlavaFixture.path.appendingPathComponent("reference.json"))).pruned
        for layout in LlavaFixture.layouts.dropFirst() {
            let original = try LlavaFixture.directory(self, reference, rename: layout.rename, carry: true)
            let weights = try HFModelDirectory.load(path: original, storage: .fp32)
            let structure = PruningStructure(originalLayers: 2, path: "", layers: (0..<2).map {
                KeptLayer(index: $0, heads: pruned.heads, kvHeads: pruned.kv_heads, neurons: pruned.neurons)
            })
            let folder = try SafetensorsTestSupport.temporaryDirectory(self) + "/hf"
            let spec = try XCTUnwrap(try HFModelDirectory.readTokenizer(in: original))
            try HFModelDirectory.write(try structure.apply(to: weights), to: folder)
            try HFModelDirectory.writeTokenizer(spec, maxPositions: 64, to: folder)
            try LlavaExport.wrap(folder: folder, original: original)

            let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json"))) as? [String: Any])
            XCTAssertEqual(config["model_type"] as? String, "llava", layout.name)
            let text = try XCTUnwrap(config["text_config"] as? [String: Any])
            XCTAssertEqual(text["num_attention_heads"] as? Int, 2, layout.name)
            XCTAssertEqual(text["intermediate_size"] as? Int, 20, layout.name)
            for file in ["preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"] {
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file)),
                               try Data(contentsOf: URL(fileURLWithPath: original + "/" + file)), file)
            }
            // Vision and projector tensors: the same names and bytes; the language model's under the original's layout.
            let before = try Self.rawTensors(original + "/model.safetensors"), after = try Self.rawTensors(folder + "/model.safetensors")
            let vision = before.keys.filter { LlavaContainer.visionName(ofStored: $0) != nil }
            XCTAssertEqual(vision.count, 59, layout.name)
            for name in vision { XCTAssertEqual(after[name], before[name], name) }
            XCTAssertEqual(Set(after.keys), Set(before.keys), layout.name)
            XCTAssertNotEqual(after["language_model.model.layers.0.mlp.up_proj.weight"], before["language_model.model.layers.0.mlp.up_proj.weight"])

            let (back, backVision) = (try HFModelDirectory.load(path: folder, storage: .fp32),
                                      try XCTUnwrap(try LlavaVision.load(path: folder, text: weights.config)))
            let transformer = Transformer(weights: back)
            XCTAssertLessThan(relativeError(transformer.logits(reference.text.tokens).data, Array(pruned.text_logits.joined())), 1e-4, layout.name)
            let features = backVision.features(pixels: reference.image.pixel_values)
            let logits = try backVision.logits(transformer, tokens: reference.image.expanded, features: features)
            XCTAssertLessThan(relativeError(logits.data, Array(pruned.image_logits.joined())), 1e-3, layout.name)
        }
    }
}
