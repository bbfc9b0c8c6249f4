import XCTest
@testable import Shared

/// The tiny LLaVA-1.5 scripts/make-llava-fixture.py made with transformers: its reference, and its weights written at
/// run time from the fixture formula (FamilyFixtureTests.values) under any key layout.
enum LlavaFixture {
    struct Reference: Decodable {
        struct Text: Decodable {
            let tokens: [Int32]
            let logits: [[Double]]
        }
        struct Image: Decodable {
            /// The prompt as written (one `<image>` token), and as the processor expands it.
            let prompt: [Int32]
            let expanded: [Int32]
            /// The processor's pixel values of image.png: [3, size, size].
            let pixel_values: [Float]
            let logits: [[Double]]
        }
        let init_std: Float
        /// Name (transformers 5's in-memory name) and shape of every tensor.
        let tensors: [FamilyFixtureTests.Reference.Tensor]
        /// The names transformers' save_pretrained wrote.
        let saved_names: [String]
        let text: Text
        let image: Image
    }

    static let path = RealInputs.fixture("families/llava")

    static func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: path.appendingPathComponent("reference.json")))
    }

    /// The key layouts, each a rule from transformers 5's in-memory names to the stored ones.
    static let layouts: [(name: String, rename: @Sendable (String) -> String)] = [
        ("transformers 5 in memory", { $0 }),
        ("transformers 5.25 save_pretrained", { name in
            rename(name, [("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head."),
                          ("model.vision_tower.", "vision_tower."), ("model.multi_modal_projector.", "multi_modal_projector.")])
        }),
        ("llava-hf", { name in
            rename(name, [("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head."),
                          ("model.vision_tower.", "vision_tower.vision_model."), ("model.multi_modal_projector.", "multi_modal_projector.")])
        }),
    ]

    static func rename(_ name: String, _ rules: [(String, String)]) -> String {
        for (from, to) in rules where name.hasPrefix(from) { return to + name.dropFirst(from.count) }
        return name
    }

    /// A temporary copy of the fixture's config.json (or `config`) beside its weights stored under `rename`, without
    /// the tensors `omit` names (in-memory names), plus `extra` tensors; with `carry`, its processor and tokenizer files too.
    static func directory(_ testCase: XCTestCase, _ reference: Reference, rename: (String) -> String,
                          config: String? = nil, omit: Set<String> = [],
                          extra: [(name: String, tensor: Tensor)] = [], carry: Bool = false) throws -> String {
        let directory = try SafetensorsTestSupport.temporaryDirectory(testCase)
        for file in carry ? ["preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"] : [] {
            try FileManager.default.copyItem(atPath: path.appendingPathComponent(file).path, toPath: directory + "/" + file)
        }
        if let config {
            try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        } else {
            try FileManager.default.copyItem(atPath: path.appendingPathComponent("config.json").path, toPath: directory + "/config.json")
        }
        let tensors = reference.tensors.filter { !omit.contains($0.name) }.map { entry in
            (name: rename(entry.name), tensor: Tensor(shape: entry.shape, data: FamilyFixtureTests.values(
                name: entry.name, count: entry.shape.reduce(1, *), oneDimensional: entry.shape.count == 1, initStd: reference.init_std)))
        }
        try SafetensorsWriter.write(tensors + extra, dtype: .f32, to: directory + "/model.safetensors")
        return directory
    }
}
