import Foundation
import XCTest
@testable import Shared

/// `--export-type` (and the older `--f16`) on `mop apply`, `prune` and `finetune`: the files hold the type and
/// `mop inspect` says so; without it the input's own type is written; a block type with safetensors alone, or `--f16`
/// against another type, is refused before anything is written.
final class ExportTypeTests: XCTestCase {
    var directory = ""
    var model = ""
    var structure = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-export-type-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = try PruneFixtures.tinyModel(in: directory, layers: 2)
        // Layer 1 keeps 40 of 64 neurons: its down projection's rows (40) are not whole Q8_0 blocks.
        structure = directory + "/structure.json"
        try PruningStructure(originalLayers: 2, path: "", layers: [
            KeptLayer(index: 0, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: Array(0..<64)),
            KeptLayer(index: 1, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: Array(0..<40)),
        ]).write(to: structure)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func apply(_ out: String, _ options: [String]) throws -> MopProcess.Output {
        try MopProcess.run(["apply", model, "--structure", structure, "--out", directory + "/" + out] + options, timeout: 120)
    }

    /// `mop inspect --json`'s tensor types of `path`: type name -> count.
    private func tensorTypes(_ path: String) throws -> [String: Int] {
        let inspect = try MopProcess.run(["inspect", path, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let entries = try XCTUnwrap(inspect.json?["tensor_types"] as? [[String: Any]], inspect.stdout)
        return Dictionary(uniqueKeysWithValues: entries.map { ($0["type"] as? String ?? "?", $0["count"] as? Int ?? -1) })
    }

    func testEachTypeIsWrittenAndInspectReportsIt() throws {
        // 2 blocks: 4 norms (F32) and 7 matrices each, plus the final norm and the tied embedding.
        let q8 = try apply("q8", ["--export-type", "q8_0", "--format", "gguf"])
        XCTAssertEqual(q8.status, 0, q8.stderr)
        // Layer 1's 40 neurons are padded to 64 with zero neurons, so its down projection is Q8_0 too; with
        // --exact-widths its rows of 40 are not whole blocks, and F16 as llama-quantize writes them.
        XCTAssertEqual(try tensorTypes(directory + "/q8/model.gguf"), ["Q8_0": 15, "F32": 5])
        let exact = try apply("q8-exact", ["--export-type", "q8_0", "--format", "gguf", "--exact-widths"])
        XCTAssertEqual(exact.status, 0, exact.stderr)
        XCTAssertEqual(try tensorTypes(directory + "/q8-exact/model.gguf"), ["Q8_0": 14, "F16": 1, "F32": 5])
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/q8/hf"))
        let text = try MopProcess.run(["inspect", directory + "/q8-exact/model.gguf"])
        XCTAssertTrue(text.stdout.contains("tensor types:  Q8_0 x 14, F32 x 5, F16 x 1"), text.stdout)

        let bf16 = try apply("bf16", ["--export-type", "bf16"])
        XCTAssertEqual(bf16.status, 0, bf16.stderr)
        XCTAssertEqual(try tensorTypes(directory + "/bf16/model.gguf"), ["BF16": 15, "F32": 5])
        // 1-D tensors (norms) stay F32 in safetensors too, as --help says and GGUF does.
        XCTAssertEqual(try tensorTypes(directory + "/bf16/hf"), ["BF16": 15, "F32": 5])
        let expected = try PruningStructure.load(path: structure).apply(to: try ModelLoader.load(path: model).weights)
        let read = try ModelLoader.load(path: directory + "/bf16/hf").weights
        XCTAssertLessThan(zip(read.namedTensors(), expected.namedTensors()).map { pair in
            zip(pair.0.tensor.data, pair.1.tensor.data).map { abs($0 - $1) / max(abs($1), 1e-30) }.max() ?? 0
        }.max() ?? 1, 0x1p-8)

        // The older flag still means F16, alone or with an --export-type that agrees.
        for (out, options) in [("f16", ["--f16"]), ("f16-both", ["--f16", "--export-type", "f16"])] {
            let run = try apply(out, options + ["--format", "gguf"])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(try tensorTypes(directory + "/\(out)/model.gguf"), ["F16": 15, "F32": 5])
        }
    }

    func testTypesAFormatCannotHoldAndContradictionsAreRefused() throws {
        let cases: [([String], String)] = [
            (["--export-type", "q8_0", "--format", "safetensors"], "--export-type q8_0 is a GGUF type (safetensors holds f32, f16 or bf16): give --format gguf or both"),
            (["--export-type", "q4_k_m", "--format", "safetensors"], "--export-type q4_k_m is a GGUF type"),
            (["--f16", "--export-type", "bf16"], "--f16 means --export-type f16, which contradicts --export-type bf16"),
            (["--export-type", "q3_k_m"], "The value 'q3_k_m' is invalid for '--export-type"),
        ]
        for (index, (options, message)) in cases.enumerated() {
            let run = try apply("refused-\(index)", options)
            XCTAssertEqual(run.status, 64, run.stderr)
            XCTAssertTrue(run.stderr.contains(message), run.stderr)
            XCTAssertEqual(run.stdout, "")
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/refused-\(index)"), "\(options) wrote output")
        }
        let data = try PruneFixtures.alpaca(in: directory, rows: 8)
        for command in [["prune", model, "--target", "0.2", "--calibration", data], ["finetune", model, "--data", data]] {
            let run = try MopProcess.run(command + ["--out", directory + "/p", "--export-type", "q8_0", "--format", "safetensors"])
            XCTAssertEqual(run.status, 64, run.stderr)
            XCTAssertTrue(run.stderr.contains("--export-type q8_0 is a GGUF type"), run.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/p"))
        }
    }

    /// Without --export-type the input's own type is written (GGUF: its general.file_type), and the line says why;
    /// a block type with --format both also writes hf/ in F16.
    func testTheDefaultTypeIsTheInputsOwn() throws {
        let mixed = try apply("q4km", ["--export-type", "q4_k_m"])
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertTrue(mixed.stdout.contains("GGUF q4_k_m, safetensors f16 (--export-type)"), mixed.stdout)
        // Rows of 32 are not whole 256-element super-blocks: Q4_K falls back to Q5_0, and the tied embedding (output's
        // Q6_K), layer 1's attn_v and its down projection (Q6_K: the last eighth of 2 layers; 40 neurons padded to 64)
        // to Q8_0, as llama-quantize does.
        let types = ["Q5_0": 12, "Q8_0": 3, "F32": 5]
        XCTAssertEqual(try tensorTypes(directory + "/q4km/model.gguf"), types)
        XCTAssertEqual(try tensorTypes(directory + "/q4km/hf"), ["F16": 15, "F32": 5])
        let identity = directory + "/identity.json"
        try PruningStructure.identity(try ModelLoader.load(path: directory + "/q4km/model.gguf").weights.config).write(to: identity)
        let again = try MopProcess.run(["apply", directory + "/q4km/model.gguf", "--structure", identity, "--out", directory + "/again",
                                        "--format", "gguf"], timeout: 120)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("GGUF q4_k_m (the input's general.file_type 15)"), again.stdout)
        XCTAssertEqual(try tensorTypes(directory + "/again/model.gguf"), types)
        let plain = try apply("plain", ["--format", "gguf"])
        XCTAssertTrue(plain.stdout.contains("GGUF f32 (the input's general.file_type 0)"), plain.stdout)
    }

    /// Issue 30, case 6: a value past f16's 65504 would be written as infinity (and the export then refused by mop
    /// itself): refused before anything is written, naming the tensor and the element; bf16 holds it.
    func testValuesBeyondF16AreRefusedBeforeWriting() throws {
        var weights = try ModelLoader.load(path: model).weights
        var down = weights.layers[1][.down]!.data
        down[70] = -70_000
        weights.layers[1][.down]! = Tensor(shape: weights.layers[1][.down]!.shape, data: down)
        let large = directory + "/large.gguf"
        try GGUFWriter.write(weights: weights, tokenizer: try ModelLoader.tokenizer(path: model), to: large, type: .f32)
        for options in [["--export-type", "f16"], ["--f16", "--format", "safetensors"], ["--export-type", "q8_0", "--format", "gguf"]] {
            // Layer 1's down projection (rows of 40 after the structure) is checked against f16's range under q8_0
            // too: the range check looks at the widths as pruned (--exact-widths' F16 fallback), before any padding.
            let out = directory + "/refused"
            let run = try MopProcess.run(["apply", large, "--structure", structure, "--out", out] + options, timeout: 120)
            XCTAssertEqual(run.status, 1, "\(options): \(run.stderr)")
            XCTAssertEqual(run.stderr, "mop: error: \(out): tensor model.layers.1.mlp.down_proj.weight holds -70000.0 at element 46, beyond F16's largest 65504.0: give --export-type bf16 or f32\n")
            for file in ["model.gguf", "hf/model.safetensors", "hf/config.json", "structure.json"] {
                XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/" + file), "\(options) wrote \(file)")
            }
            try? FileManager.default.removeItem(atPath: out)
        }
        let bf16 = try MopProcess.run(["apply", large, "--structure", structure, "--out", directory + "/bf16", "--export-type", "bf16"], timeout: 120)
        XCTAssertEqual(bf16.status, 0, bf16.stderr)
        let read = try ModelLoader.load(path: directory + "/bf16/hf").weights
        XCTAssertEqual(read.layers[1][.down]!.data[46], -70_000, accuracy: 300)  // row 1, column 6 of 40
    }

    /// The merged model of `mop finetune` is written in the chosen type.
    func testFinetuneWritesTheMergedModelInTheChosenType() throws {
        // A tokenizer with an EOS token, as fine-tuning needs; intermediate 48, padded to 64 with zero neurons.
        let base = try TinyByteModel.write(in: directory), data = try TinyByteModel.alpaca(rows: 8, in: directory)
        let run = try MopProcess.run(["finetune", base, "--data", data, "--out", directory + "/ft", "--steps", "1", "--batch", "2",
                                      "--micro-batch", "2", "--lora-rank", "2", "--export-type", "q8_0", "--format", "gguf"], timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try tensorTypes(directory + "/ft/model.gguf"), ["Q8_0": 15, "F32": 5])
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/ft/hf"))
    }
}
