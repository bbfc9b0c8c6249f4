import Foundation
import XCTest
@testable import Shared

final class HFModelDirectoryTests: XCTestCase {
    typealias Support = SafetensorsTestSupport

    private let shapes: [(String, ModelConfig)] = [
        ("MHA untied", Support.config(layers: [(4, 4, 24), (4, 4, 24)], tied: false)),
        ("GQA tied", Support.config(layers: [(4, 2, 24), (4, 2, 24)], tied: true)),
        ("non-uniform GQA untied", Support.config(layers: [(4, 2, 24), (2, 1, 7), (4, 4, 3)], tied: false)),
        ("non-uniform MHA tied", Support.config(layers: [(2, 2, 5), (4, 4, 24)], tied: true)),
        ("qwen2 non-uniform untied", {
            var config = Support.config(layers: [(4, 2, 24), (2, 1, 7)], tied: false)
            config.architecture = .qwen2
            return config
        }()),
    ]

    func testF32RoundTripsAreExact() throws {
        for (seed, (label, config)) in shapes.enumerated() {
            let directory = try Support.temporaryDirectory(self) + "/out/model"
            let weights = ModelWeights.random(config: config, seed: UInt64(seed))
            try HFModelDirectory.write(weights, to: directory, specialTokens: HFSpecialTokenIds(bos: 1, eos: [2]))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["config.json", "model.safetensors"], label)

            let (loaded, tokens) = try HFModelDirectory.loadWithSpecialTokens(path: directory)
            XCTAssertEqual(loaded, weights, label)
            XCTAssertEqual(tokens, HFSpecialTokenIds(bos: 1, eos: [2]), label)
            // The file holds exactly the HF tensor names: lm_head only when untied.
            let file = try SafetensorsFile(path: directory + "/model.safetensors")
            XCTAssertEqual(file.names, ModelWeights.expectedShapes(config).map(\.name), label)
            XCTAssertEqual(file.names.contains("lm_head.weight"), !config.tiedEmbeddings, label)
        }
    }

    func testBFloat16DirectoryHoldsRoundedWeights() throws {
        let directory = try Support.temporaryDirectory(self)
        let weights = ModelWeights.random(config: shapes[1].1, seed: 9)
        try HFModelDirectory.write(weights, to: directory, dtype: .bf16)
        let loaded = try HFModelDirectory.load(path: directory)
        // Matrices are rounded to bf16; 1-D tensors (the norms) stay f32, exact, as in GGUF exports.
        for ((name, original), (_, back)) in zip(weights.namedTensors(), loaded.namedTensors()) {
            let rounded = original.shape.count == 1 ? original.data
                : original.data.map { Float(bitPattern: UInt32(SafetensorsDType.floatToBFloat16($0)) << 16) }
            XCTAssertEqual(back.data, rounded, name)
        }
        XCTAssertNotEqual(loaded, weights)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/config.json"))) as? [String: Any])
        XCTAssertEqual(config["torch_dtype"] as? String, "bfloat16")
        XCTAssertEqual(try HFModelDirectory.storedTypes(in: directory),
                       weights.namedTensors().map { $0.1.shape.count == 1 ? SafetensorsDType.f32 : .bf16 })
    }

    func testShardedDirectoryLoadsTheSameModel() throws {
        let directory = try Support.temporaryDirectory(self)
        let weights = ModelWeights.random(config: shapes[2].1, seed: 4)
        let named = weights.namedTensors()
        let split = named.count / 2
        let shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        try SafetensorsWriter.write(Array(named[..<split]), dtype: .f32, to: directory + "/" + shardNames[0])
        try SafetensorsWriter.write(Array(named[split...]), dtype: .f32, to: directory + "/" + shardNames[1])
        var map: [String: String] = [:]
        for (position, (name, _)) in named.enumerated() { map[name] = shardNames[position < split ? 0 : 1] }
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: URL(fileURLWithPath: directory + "/model.safetensors.index.json"))
        try HFConfig.encode(weights.config).write(to: URL(fileURLWithPath: directory + "/config.json"))

        XCTAssertEqual(try HFModelDirectory.load(path: directory), weights)
        XCTAssertEqual(try HFModelDirectory.storedTypes(in: directory), [SafetensorsDType](repeating: .f32, count: named.count))
    }

    func testTokenizerSeamPointsIntoTheDirectory() {
        XCTAssertEqual(HFModelDirectory.tokenizerPath(in: "/m/smol"), "/m/smol/tokenizer.json")
    }

    // MARK: malformed directories, one problem each

    /// Writes `config` as config.json and `weights`' tensors (possibly edited) as model.safetensors.
    private func writeDirectory(config: ModelConfig, tensors: [(name: String, tensor: Tensor)]) throws -> String {
        let directory = try Support.temporaryDirectory(self)
        try HFConfig.encode(config).write(to: URL(fileURLWithPath: directory + "/config.json"))
        try SafetensorsWriter.write(tensors, dtype: .f32, to: directory + "/model.safetensors")
        return directory
    }

    func testTensorShapeDisagreeingWithConfigFails() throws {
        let config = shapes[0].1
        var smaller = config
        smaller.layers[1].intermediate = 20
        let directory = try writeDirectory(config: config, tensors: ModelWeights.random(config: smaller, seed: 1).namedTensors())
        Support.assertMopError(try HFModelDirectory.load(path: directory), path: directory + "/model.safetensors",
                               phrase: "tensor model.layers.1.mlp.gate_proj.weight has shape [20, 16], the config implies [24, 16]")
    }

    func testMissingTensorFails() throws {
        let config = shapes[1].1
        let tensors = ModelWeights.random(config: config, seed: 1).namedTensors().filter { $0.name != "model.norm.weight" }
        let directory = try writeDirectory(config: config, tensors: tensors)
        Support.assertMopError(try HFModelDirectory.load(path: directory), path: directory + "/model.safetensors",
                               phrase: "missing tensor model.norm.weight")
    }

    func testConfigMissingHiddenSizeFails() throws {
        let config = shapes[1].1
        let directory = try writeDirectory(config: config, tensors: ModelWeights.random(config: config, seed: 1).namedTensors())
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: HFConfig.encode(config)) as? [String: Any])
        json["hidden_size"] = nil
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: directory + "/config.json"))
        Support.assertMopError(try HFModelDirectory.load(path: directory), path: directory + "/config.json", phrase: "key hidden_size is missing")
    }

    func testMissingConfigAndWeightsFail() throws {
        let directory = try Support.temporaryDirectory(self)
        Support.assertMopError(try HFModelDirectory.load(path: directory), path: directory + "/config.json", phrase: "no such file")
        try HFConfig.encode(shapes[0].1).write(to: URL(fileURLWithPath: directory + "/config.json"))
        Support.assertMopError(try HFModelDirectory.load(path: directory), path: directory, phrase: "no model.safetensors or model.safetensors.index.json")
        Support.assertMopError(try HFModelDirectory.load(path: directory + "/absent"), path: directory + "/absent", phrase: "not a model directory")
    }

    func testWriterRefusesWeightsThatDisagreeWithTheirConfig() throws {
        let directory = try Support.temporaryDirectory(self) + "/out"
        var weights = ModelWeights.random(config: shapes[0].1, seed: 2)
        weights.layers[0][.up]! = Tensor(zeros: [23, 16])
        Support.assertMopError(try HFModelDirectory.write(weights, to: directory), path: directory,
                               phrase: "tensor model.layers.0.mlp.up_proj.weight has shape [23, 16], the config implies [24, 16]")
        weights = ModelWeights.random(config: shapes[0].1, seed: 2)
        weights.output = nil
        Support.assertMopError(try HFModelDirectory.write(weights, to: directory), path: directory, phrase: "the weights have none")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory))
    }
}
