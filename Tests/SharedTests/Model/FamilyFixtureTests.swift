import XCTest
@testable import Shared

/// Families without reachable real weights (Qwen3, Phi), checked against tiny random models transformers made and scored
/// (scripts/make-family-fixture.py): mop's logits, a pruned model's logits (surgery and masks), and the GGUF and
/// Hugging Face round trips of the family's files. The fixture holds the config and the reference only; each test
/// writes the model's safetensors from the same formula the script drew them with.
final class FamilyFixtureTests: XCTestCase {
    struct Reference: Decodable {
        struct Pruned: Decodable {
            let heads: [Int]
            let kv_heads: [Int]
            let neurons: [Int]
            let logits: [[Double]]
        }
        let init_std: Float
        /// Name and shape of every tensor, as transformers' state dict lists them.
        let tensors: [Tensor]
        let tokens: [Int32]
        let logits: [[Double]]
        let pruned: Pruned

        struct Tensor: Decodable {
            let name: String
            let shape: [Int]
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                name = try c.decode(String.self)
                shape = try c.decode([Int].self)
            }
        }
    }

    /// The fixture's model, its safetensors written into a temporary folder beside a copy of its config.json.
    func load(_ family: String) throws -> (weights: ModelWeights, reference: Reference) {
        let fixture = RealInputs.fixture("families/" + family)
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture.appendingPathComponent("reference.json")))
        let directory = try SafetensorsTestSupport.temporaryDirectory(self)
        try FileManager.default.copyItem(atPath: fixture.appendingPathComponent("config.json").path, toPath: directory + "/config.json")
        let tensors = reference.tensors.map { entry in
            (name: entry.name, tensor: Shared.Tensor(shape: entry.shape, data: Self.values(
                name: entry.name, count: entry.shape.reduce(1, *), oneDimensional: entry.shape.count == 1, initStd: reference.init_std)))
        }
        try SafetensorsWriter.write(tensors, dtype: .f32, to: directory + "/model.safetensors")
        return (try HFModelDirectory.load(path: directory, storage: .fp32), reference)
    }

    /// The fixture script's `fixture_values`: element i of the tensor `name` is SplitMix64's i-th draw seeded with the
    /// FNV-1a hash of the name, as a uniform in [-1, 1) scaled to deviation `initStd` (matrices) or 0.3 around 1 (1-D).
    static func values(name: String, count: Int, oneDimensional: Bool, initStd: Float) -> [Float] {
        var seed: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01B3 }
        let scale = Float((oneDimensional ? 0.3 : Double(initStd)) * 3.0.squareRoot())
        return (0..<count).map { index in
            let unit = Float(Double(SeededRandom.output(seed: seed, index: UInt64(index)) >> 11) / Double(1 << 53) * 2 - 1)
            return oneDimensional ? 1 + unit * scale : unit * scale
        }
    }

    func prunedStructure(_ reference: Reference, layers: Int) -> PruningStructure {
        PruningStructure(originalLayers: layers, path: "", layers: (0..<layers).map {
            KeptLayer(index: $0, heads: reference.pruned.heads, kvHeads: reference.pruned.kv_heads, neurons: reference.pruned.neurons)
        })
    }

    /// The families with a fixture, the architecture each reads as, the GGUF name it is written under and a
    /// tensor only that family's GGUF has.
    static let families: [(name: String, architecture: Architecture, gguf: String, tensor: String)] = [
        ("qwen3", .qwen3, "qwen3", "blk.1.attn_k_norm.weight"),
        ("phi", .phi, "phi2", "output.bias"),
    ]

    func testLogitsEqualTransformers() throws {
        for family in Self.families {
            let (weights, reference) = try load(family.name)
            XCTAssertEqual(weights.config.architecture, family.architecture)
            let logits = Transformer(weights: weights).logits(reference.tokens)
            XCTAssertLessThan(relativeError(logits.data, Array(reference.logits.joined())), 1e-4, family.name)
        }
    }

    /// Heads 2-3 (KV group 1) and the even neurons: the surgery's logits equal transformers' on the sliced model,
    /// and the same step as a mask gives the surgery's logits.
    func testPrunedEqualsTransformersAndMaskEqualsSurgery() throws {
        for family in Self.families {
            let (weights, reference) = try load(family.name)
            let structure = prunedStructure(reference, layers: weights.config.layers.count)
            let pruned = try structure.apply(to: weights)
            let surgery = Transformer(weights: pruned).logits(reference.tokens)
            XCTAssertLessThan(relativeError(surgery.data, Array(reference.pruned.logits.joined())), 1e-4, family.name)
            let mask = try ModelMask(step: structure, config: weights.config)
            let masked = Transformer(weights: weights).logits(reference.tokens, mask: mask)
            XCTAssertLessThan(relativeError(masked.data, surgery.data.map(Double.init)), 1e-5, family.name)
        }
    }

    /// f32 GGUF (the family's name, Q/K rows in Hugging Face order, its own tensors) and safetensors: the same weights
    /// come back.
    func testRoundTripsThroughGGUFAndSafetensors() throws {
        for family in Self.families {
            let (weights, _) = try load(family.name)
            let directory = try SafetensorsTestSupport.temporaryDirectory(self)
            let gguf = directory + "/model.gguf"
            try GGUFWriter.write(weights: weights, tokenizer: nil, to: gguf, type: .f32)
            let file = try GGUFFile(path: gguf)
            XCTAssertEqual(file.architecture, family.gguf)
            XCTAssertNotNil(file.tensor(named: family.tensor), family.name)
            XCTAssertEqual(try GGUFModel.weights(of: file, storage: .fp32), weights, family.name)
            try HFModelDirectory.write(weights, to: directory + "/hf")
            XCTAssertEqual(try HFModelDirectory.load(path: directory + "/hf", storage: .fp32), weights, family.name)
        }
    }

    /// A model pruned unevenly has no llama.cpp loader (qwen3 and phi2 take one shape, deci has neither q/k norms
    /// nor LayerNorm): refused by name before a byte is written.
    func testUnevenModelsRefuseGGUF() throws {
        for family in Self.families {
            let (weights, reference) = try load(family.name)
            let shape = weights.config.layers[0]
            let structure = PruningStructure(originalLayers: 2, path: "", layers: [
                KeptLayer(index: 0, heads: Array(0..<shape.heads), kvHeads: Array(0..<shape.kvHeads),
                          neurons: Array(0..<shape.intermediate)),
                KeptLayer(index: 1, heads: reference.pruned.heads, kvHeads: reference.pruned.kv_heads, neurons: reference.pruned.neurons),
            ])
            let directory = try SafetensorsTestSupport.temporaryDirectory(self)
            XCTAssertThrowsError(try GGUFWriter.write(weights: try structure.apply(to: weights), tokenizer: nil,
                                                      to: directory + "/model.gguf", type: .f32)) { error in
                XCTAssertTrue("\(error)".contains("Hugging Face files"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/model.gguf"))
        }
    }
}
