import Foundation
import XCTest
@testable import Shared

/// Issue 13, model files a hostile user crafts: one header value rewritten, bytes shifted, NaN weights. Each ends
/// with one line naming the file and the problem, exit 1, quickly, without trapping or allocating what the header
/// claims. "Quickly" is a hang guard, not a timing (30 s: the traps and hangs took minutes or forever); alone each takes
/// about 0.3 s, mostly MPI start-up, which the README reports as measured.
final class HostileModelFileTests: XCTestCase {
    var directory = ""
    var model = ""
    var text = ""
    let quickly: TimeInterval = 30

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = try TinyByteModel.write(in: directory)
        text = directory + "/text.txt"
        try Data("some text to score, long enough for a few windows of tokens".utf8).write(to: URL(fileURLWithPath: text))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// The tiny model with metadata `key` (under `llama.`) set to `value`.
    func rewritten(_ key: String, _ value: GGUFValue, alignment: Int? = nil) throws -> String {
        let path = directory + "/rewritten.gguf"
        try GGUFRewrite.rewrite(model, to: path, set: [key: value], alignment: alignment)
        return path
    }

    func assertFails(_ commands: [[String]], _ path: String, saying phrase: String, line: UInt = #line) throws {
        for command in commands {
            try OneLineError.assert([command[0], path] + command.dropFirst(), naming: path, saying: phrase, within: quickly, line: line)
        }
    }

    var inspectAndEval: [[String]] { [["inspect"], ["eval", "--ppl", text]] }

    // Cases 1-4: sizes whose products overflow Int, or buffers sized by a header's word.
    func testOverflowingParameterCount() throws {
        let path = directory + "/c1.gguf"
        // The tiny file states its head dimension (attention.key_length), so the embedding length alone is rewritten.
        try GGUFRewrite.rewrite(model, to: path, set: ["llama.embedding_length": .uint64(9 << 56)])
        try assertFails(inspectAndEval, path, saying: "hidden size 648518346341351424 is outside 1...4194304")
    }

    func testHugeFeedForwardLength() throws {
        try assertFails(inspectAndEval, try rewritten("llama.feed_forward_length", .uint64(1 << 62)),
                        saying: "layer 0 intermediate size 4611686018427387904 is outside")
    }

    func testHugeVocabularySize() throws {
        try assertFails(inspectAndEval, try rewritten("llama.vocab_size", .uint64(1 << 62)), saying: "vocabulary size 4611686018427387904 is outside")
    }

    func testHugeContextLength() throws {
        try assertFails(inspectAndEval, try rewritten("llama.context_length", .uint32(.max)), saying: "context length (positions) 4294967295 is outside")
        try assertFails(inspectAndEval, try rewritten("llama.context_length", .uint64(1 << 62)), saying: "is outside 1...2147483647")
        // The largest accepted context costs nothing up front: the RoPE table is sized by what runs.
        let largest = try rewritten("llama.context_length", .uint32(UInt32(Int32.max)))
        let start = Date()
        let output = try MopProcess.run(["eval", largest, "--ppl", text, "--seq-len", "16"], timeout: 60)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("perplexity "), output.stdout)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }

    // Case 9: a corrupt key length must not quote raw file bytes as a key name.
    func testCorruptKeyLengthNamesTheEntryAndOffset() throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: model))
        // The first key's length is the UInt64 at byte 24 (after magic, version and the two counts).
        data.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64(300).littleEndian) { Data($0) })
        try data.write(to: URL(fileURLWithPath: model))
        let message = try OneLineError.assert(["inspect", model], naming: model, saying: "metadata entry 0 (at byte 24)", within: quickly)
        XCTAssertTrue(message.contains("not printable ASCII"), message)
        XCTAssertFalse(message.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, message)
        XCTAssertLessThan(message.count, 250, message)
    }

    // Case 11: a dimension whose byte count overflows is reported as such.
    func testDimensionWhoseByteCountOverflows() throws {
        let file = try GGUFFile(path: model)
        let norm = try XCTUnwrap(file.tensor(named: "blk.0.attn_norm.weight"))
        var data = try Data(contentsOf: URL(fileURLWithPath: model))
        // Find the tensor's entry: its name, then the dimension count (1) and the dimension (32).
        let entry = try XCTUnwrap(data.range(of: Data("blk.0.attn_norm.weight".utf8)))
        let dimension = entry.upperBound + 4
        XCTAssertEqual(data[dimension..<dimension + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }, UInt64(norm.dimensions[0]))
        data.replaceSubrange(dimension..<dimension + 8, with: withUnsafeBytes(of: UInt64(1 << 62).littleEndian) { Data($0) })
        try data.write(to: URL(fileURLWithPath: model))
        try assertFails(inspectAndEval, model, saying: "of F32 take more bytes than the whole file")
    }

    // Case 14: NaN or infinite weights are refused at load, naming the tensor.
    func testNonFiniteWeights() throws {
        for bad in [Float.nan, .infinity] {
            let loaded = try ModelLoader.load(path: model)
            var weights = loaded.weights
            weights.layers[1][.up]!.data[5] = bad
            let path = directory + "/bad.gguf"
            try GGUFWriter.write(weights: weights, tokenizer: loaded.tokenizer, to: path, type: .f32)
            try OneLineError.assert(["eval", path, "--ppl", text], naming: path, saying: "tensor blk.1.ffn_up.weight holds \(bad) at element 5", within: quickly)
            let hf = directory + "/bad-hf"
            try HFModelDirectory.write(weights, to: hf)
            try OneLineError.assert(["eval", hf, "--ppl", text], naming: hf + "/model.safetensors",
                                    saying: "tensor model.layers.1.mlp.up_proj.weight holds \(bad) at element 5", within: quickly)
        }
    }

    // Case 15: a layer count that does not match the stored layers.
    func testBlockCountThatDisagreesWithTheTensors() throws {
        try OneLineError.assert(["eval", try rewritten("llama.block_count", .uint32(1)), "--ppl", text], naming: directory,
                                saying: "holds 9 tensors the configuration (1 layers) does not account for: blk.1.", within: quickly)
        try OneLineError.assert(["eval", try rewritten("llama.block_count", .uint32(3)), "--ppl", text], naming: directory,
                                saying: "missing tensor blk.2.attn_norm.weight", within: quickly)
        let hf = try hfDirectory()
        try editConfig(hf) { $0["num_hidden_layers"] = 1 }
        try OneLineError.assert(["eval", hf, "--ppl", text], naming: hf,
                                saying: "holds 9 tensors the configuration (1 layers) does not account for: model.layers.1.", within: quickly)
    }

    // Case 16: one validation of epsilon and theta for config.json and GGUF.
    func testEpsilonAndThetaOutOfRange() throws {
        for (key, value, phrase) in [("rms_norm_eps", 0.0, "RMSNorm epsilon 0.0 is outside (0, 1)"), ("rms_norm_eps", 1e300, "RMSNorm epsilon inf"),
                                     ("rms_norm_eps", -1e-5, "RMSNorm epsilon -1e-05"), ("rope_theta", 0.0, "RoPE theta 0.0 is not"),
                                     ("rope_theta", -1.0, "RoPE theta -1.0"), ("rope_theta", 1e-30, "RoPE theta 1e-30")] {
            let hf = try hfDirectory()
            try editConfig(hf) { $0[key] = value }
            try OneLineError.assert(["inspect", hf], naming: hf + "/config.json", saying: phrase, within: quickly)
        }
        try assertFails([["inspect"]], try rewritten("llama.rope.freq_base", .float32(1e-30)), saying: "RoPE theta 1e-30")
        try assertFails([["inspect"]], try rewritten("llama.attention.layer_norm_rms_epsilon", .float32(0)), saying: "RMSNorm epsilon 0.0")
    }

    // Case 17: tensor data must start where the format says.
    func testShiftedDataSections() throws {
        let shifted = try rewritten("general.alignment", .uint32(1))
        try assertFails(inspectAndEval, shifted, saying: "general.alignment 1")
        let hf = try hfDirectory(), file = hf + "/model.safetensors"
        var data = try Data(contentsOf: URL(fileURLWithPath: file))
        let length = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(data[8 + Int(length) - 1], 0x20, "the header must end in padding for this case: one byte short still parses")
        data.replaceSubrange(0..<8, with: withUnsafeBytes(of: (length - 1).littleEndian) { Data($0) })
        try data.write(to: URL(fileURLWithPath: file))
        try OneLineError.assert(["eval", hf, "--ppl", text], naming: file, saying: "the tensors end at byte 96999 but the file has 97000 bytes: the header length", within: quickly)
    }

    func hfDirectory() throws -> String {
        let path = directory + "/hf-\(UUID().uuidString.prefix(8))"
        try HFModelDirectory.write(try ModelLoader.load(path: model).weights, to: path)
        return path
    }

    func editConfig(_ hf: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: hf + "/config.json")
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }
}
