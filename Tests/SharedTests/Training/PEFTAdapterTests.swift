import Foundation
import XCTest
@testable import Shared

final class PEFTAdapterTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "mop-peft-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func makeAdapters(_ model: ModelConfig = TinyConfigs.nonUniform, targets: [LoRATarget] = LoRATarget.allCases) -> LoRAAdapters {
        var adapters = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 16, dropout: 0.05, targets: targets), model: model, seed: 1)
        adapters.parameters = randomFloats(adapters.layout.count, scale: 0.5, seed: 2)
        return adapters
    }

    func testRoundTripAndExactTensorNamesAndShapes() throws {
        let adapters = makeAdapters()
        try PEFTAdapter.save(adapters, baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct", to: directory)
        XCTAssertEqual(try PEFTAdapter.load(from: directory, model: TinyConfigs.nonUniform), adapters)

        // Layer shapes of the non-uniform model: (heads, kv, I) = (4, 2, 48), (2, 1, 20), (3, 3, 7); D 32, hd 8, r 2.
        var expected: [String: [Int]] = [:]
        for (i, (q, kv, inter)) in [(32, 16, 48), (16, 8, 20), (24, 24, 7)].enumerated() {
            let p = "base_model.model.model.layers.\(i)."
            for (module, out, inner) in [("self_attn.q_proj", q, 32), ("self_attn.k_proj", kv, 32), ("self_attn.v_proj", kv, 32),
                                         ("self_attn.o_proj", 32, q), ("mlp.gate_proj", inter, 32), ("mlp.up_proj", inter, 32),
                                         ("mlp.down_proj", 32, inter)] {
                expected[p + module + ".lora_A.weight"] = [2, inner]
                expected[p + module + ".lora_B.weight"] = [out, 2]
            }
        }
        let file = try SafetensorsFile(path: directory + "/adapter_model.safetensors")
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: file.entries.map { ($0.name, $0.shape) }), expected)
        XCTAssertTrue(file.entries.allSatisfy { $0.dtype == .f32 })
        let entry = adapters.layout.entry(layer: 1, target: .o)!
        XCTAssertEqual(try file.tensor(named: "base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight")?.data,
                       Array(adapters.parameters[entry.b]))

        let data = try XCTUnwrap(FileManager.default.contents(atPath: directory + "/adapter_config.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(json["peft_type"] as? String, "LORA")
        XCTAssertEqual(json["task_type"] as? String, "CAUSAL_LM")
        XCTAssertEqual(json["r"] as? Int, 2)
        XCTAssertEqual(json["lora_alpha"] as? Int, 16)
        XCTAssertEqual(json["lora_dropout"] as? Double, 0.05)
        XCTAssertEqual(json["target_modules"] as? [String], ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        XCTAssertEqual(json["bias"] as? String, "none")
        XCTAssertEqual(json["base_model_name_or_path"] as? String, "HuggingFaceTB/SmolLM2-135M-Instruct")
        XCTAssertEqual(json["fan_in_fan_out"] as? Bool, false)
        XCTAssertEqual(json["inference_mode"] as? Bool, true)
    }

    func testSubsetOfTargetsRoundTrips() throws {
        let adapters = makeAdapters(TinyConfigs.gqa, targets: [.v, .q])
        try PEFTAdapter.save(adapters, baseModel: "base", to: directory)
        XCTAssertEqual(try SafetensorsFile(path: directory + "/adapter_model.safetensors").entries.count, 2 * 2 * 2)
        XCTAssertEqual(try PEFTAdapter.load(from: directory, model: TinyConfigs.gqa), adapters)
    }

    /// Rewrites adapter_config.json with `edit` applied, then expects `load` to fail naming the file and `problem`.
    func assertConfigRejected(_ problem: String, _ edit: (inout [String: Any]) -> Void, line: UInt = #line) throws {
        try PEFTAdapter.save(makeAdapters(), baseModel: "base", to: directory)
        let path = directory + "/adapter_config.json"
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: try XCTUnwrap(FileManager.default.contents(atPath: path))) as? [String: Any])
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        assertLoadFails(path, problem, line: line)
    }

    func assertLoadFails(_ path: String, _ problem: String, model: ModelConfig = TinyConfigs.nonUniform, line: UInt = #line) {
        XCTAssertThrowsError(try PEFTAdapter.load(from: directory, model: model), line: line) { error in
            let text = (error as? MopError)?.description ?? "not a MopError: \(error)"
            XCTAssertTrue(text.contains(path) && text.contains(problem), "\(text) should name \(path) and \(problem)", line: line)
        }
    }

    func testMalformedConfigsAreRejected() throws {
        try assertConfigRejected("peft_type is IA3") { $0["peft_type"] = "IA3" }
        try assertConfigRejected("key r is missing") { $0["r"] = nil }
        try assertConfigRejected("key r = 0 is out of range") { $0["r"] = 0 }
        try assertConfigRejected("key lora_alpha must be a number") { $0["lora_alpha"] = "sixteen" }
        try assertConfigRejected("target module lm_head") { $0["target_modules"] = ["q_proj", "lm_head"] }
        try assertConfigRejected("target_modules must be an array") { $0["target_modules"] = "all-linear" }
        try assertConfigRejected("fan_in_fan_out") { $0["fan_in_fan_out"] = true }
        try assertConfigRejected("bias all") { $0["bias"] = "all" }
        try assertConfigRejected("dropout 1.5") { $0["lora_dropout"] = 1.5 }
        try PEFTAdapter.save(makeAdapters(), baseModel: "base", to: directory)
        let path = directory + "/adapter_config.json"
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        assertLoadFails(path, "not valid JSON")
        try FileManager.default.removeItem(atPath: path)
        assertLoadFails(path, "no such file or directory")
    }

    func testMalformedWeightsAreRejected() throws {
        let weights = directory + "/adapter_model.safetensors"
        let adapters = makeAdapters()
        func rewrite(_ edit: (inout [(name: String, tensor: Tensor)]) -> Void) throws {
            var tensors: [(name: String, tensor: Tensor)] = adapters.layout.entries.flatMap { e in
                [(PEFTAdapter.tensorName(layer: e.layer, target: e.target, isB: false, architecture: .llama), adapters.a(e)),
                 (PEFTAdapter.tensorName(layer: e.layer, target: e.target, isB: true, architecture: .llama), adapters.b(e))]
            }
            edit(&tensors)
            try SafetensorsWriter.write(tensors, dtype: .f32, to: weights)
        }
        try PEFTAdapter.save(adapters, baseModel: "base", to: directory)
        try rewrite { $0.removeLast() }
        assertLoadFails(weights, "missing tensor base_model.model.model.layers.2.mlp.down_proj.lora_B.weight")
        try rewrite { $0[0].tensor = Tensor(zeros: [3, 32]) }
        assertLoadFails(weights, "has shape [3, 32], expected [2, 32]")
        try rewrite { $0.append((name: "base_model.model.lm_head.lora_A.weight", tensor: Tensor(zeros: [2, 32]))) }
        assertLoadFails(weights, "unexpected tensor base_model.model.lm_head.lora_A.weight")
        try rewrite { $0[1].tensor.data[0] = .nan }
        assertLoadFails(weights, "NaN")
        // Adapters of another model shape: the saved layer 1 q_proj B is [16, 2], the GQA model's [32, 2].
        try rewrite { _ in }
        assertLoadFails(weights, "expected [32, 2]", model: TinyConfigs.gqa)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: weights))
        assertLoadFails(weights, "truncated")
    }
}
