import Foundation
import XCTest
@testable import Shared

/// Issue 30, faults that well-formed files meet only together or at run time: a tokenizer of another model beside the
/// weights (case 2), finite weights whose forward pass overflows fp32 (case 5). Each ends every command with one line
/// naming the file, exit 1, nothing on stdout.
final class RunTimeFaultTests: XCTestCase {
    var directory = ""
    let quickly: TimeInterval = 60

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-runtime-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// 2 GQA blocks over `rows` embedding rows, 256 positions.
    static func config(rows: Int) -> ModelConfig {
        ModelConfig(vocabSize: rows, hidden: 32, headDim: 8,
                    layers: [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 48), count: 2),
                    tiedEmbeddings: true, maxPositions: 256)
    }

    /// The 256 bytes, then `added` special tokens `<extra_0>`, ... (ids 256...), the last one EOS.
    static func byteTokenizer(added: Int) -> TokenizerSpec {
        let extras = (0..<added).map { "<extra_\($0)>" }
        return TokenizerSpec(vocabulary: (0..<256).map { ByteLevel.encode([UInt8($0)]) } + extras, merges: [],
                             preTokenizer: .gpt2, specialTokenIds: (0..<added).map { Int32(256 + $0) },
                             bosTokenId: nil, eosTokenId: Int32(255 + added), addBos: false)
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A text, a task folder and Alpaca rows that all use token `<extra_90>`.
    func inputs() throws -> (text: String, tasks: String, alpaca: String) {
        let tasks = directory + "/tasks"
        try FileManager.default.createDirectory(atPath: tasks, withIntermediateDirectories: true)
        _ = try write((0..<4).map { "{\"query\": \"Q <extra_90> \($0)\", \"choices\": [\"a\", \"b\"], \"gold\": 0}" }
            .joined(separator: "\n"), "tasks/piqa.jsonl")
        let alpaca = (0..<8).map { "{\"instruction\": \"say <extra_90> \($0)\", \"input\": \"\", \"output\": \"ok\"}" }
        return (try write("some text <extra_90> to score, and more of it", "text.txt"), tasks,
                try write(alpaca.joined(separator: "\n"), "alpaca.jsonl"))
    }

    /// Every command that loads a model with its tokenizer refuses the pair, naming `file`.
    func assertEveryCommandRefuses(_ model: String, naming file: String, saying phrase: String,
                                   line: UInt = #line) throws {
        let (text, tasks, alpaca) = try inputs()
        let commands: [[String]] = [
            ["tokenize", model, "--string", "a <extra_90> b"],
            ["eval", model, "--ppl", text, "--seq-len", "16"],
            ["eval", model, "--tasks", "piqa", "--tasks-dir", tasks],
            ["generate", model, "--prompt", "hi <extra_90>", "--max-new-tokens", "4"],
            ["prune", model, "--target", "0.2", "--out", directory + "/pruned", "--calibration", alpaca, "--calibration-samples", "8", "--seq-len", "32"],
            ["finetune", model, "--data", alpaca, "--out", directory + "/tuned", "--steps", "1", "--batch", "2", "--micro-batch", "2"],
        ]
        for command in commands {
            try OneLineError.assert(command, naming: file, saying: phrase, within: quickly, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/pruned/model.gguf"), line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/tuned/model.gguf"), line: line)
    }

    // Case 2: a directory whose tokenizer.json has 356 ids over 300 embedding rows, and a GGUF whose vocabulary
    // disagrees with its embedding the same way.
    func testATokenizerOfAnotherModelIsRefused() throws {
        let weights = ModelWeights.random(config: Self.config(rows: 300), seed: 3)
        let hf = directory + "/hf"
        try HFModelDirectory.write(weights, to: hf)
        try HFModelDirectory.writeTokenizer(Self.byteTokenizer(added: 100), maxPositions: 256, to: hf)
        try assertEveryCommandRefuses(hf, naming: hf + "/tokenizer.json",
                                      saying: "the tokenizer's ids go up to 355 (356 tokens), but the model's embedding has 300 rows")
        let gguf = directory + "/model.gguf"
        try GGUFWriter.write(weights: weights, tokenizer: Self.byteTokenizer(added: 100), to: gguf, type: .f32)
        try assertEveryCommandRefuses(gguf, naming: gguf, saying: "but the model's embedding has 300 rows")
    }

    // Case 2, the reverse: fewer tokens than embedding rows (padding rows) is a normal model.
    func testAVocabularySmallerThanTheEmbeddingRuns() throws {
        let hf = directory + "/hf"
        try HFModelDirectory.write(.random(config: Self.config(rows: 400), seed: 3), to: hf)
        try HFModelDirectory.writeTokenizer(Self.byteTokenizer(added: 100), maxPositions: 256, to: hf)
        let (text, _, _) = try inputs()
        for command in [["tokenize", hf, "--string", "a <extra_90> b"], ["eval", hf, "--ppl", text, "--seq-len", "16"]] {
            let run = try MopProcess.run(command, timeout: 120)
            XCTAssertEqual(run.status, 0, "\(command): \(run.stderr)")
        }
    }

    /// A GGUF of the byte model whose layer-1 MLP norm holds 3e38: finite, so it loads, but the block overflows.
    func overflowingModel() throws -> String {
        var weights = ModelWeights.random(config: Self.config(rows: 356), seed: 3)
        weights.layers[1][.mlpNorm]! = Tensor(shape: [32], data: [Float](repeating: 3e38, count: 32))
        let path = directory + "/overflow.gguf"
        try GGUFWriter.write(weights: weights, tokenizer: Self.byteTokenizer(added: 100), to: path, type: .f32)
        return path
    }

    // Case 5: every command that runs the forward pass stops at the first non-finite window, example, batch or
    // step, naming the file and the layer; nothing is printed from NaN and no JSON holds one.
    func testAForwardPassThatOverflowsEndsTheCommand() throws {
        let model = try overflowingModel()
        let (text, tasks, alpaca) = try inputs()
        let phrase = "(layer 1): the weights overflow fp32"
        let commands: [([String], String)] = [
            (["eval", model, "--ppl", text, "--seq-len", "16"], "at window 1 "),
            (["eval", model, "--ppl", text, "--seq-len", "16", "--json"], "at window 1 "),
            (["eval", model, "--tasks", "piqa", "--tasks-dir", tasks], "at example 1 "),
            (["eval", model, "--tasks", "piqa", "--tasks-dir", tasks, "--json"], "at example 1 "),
            (["generate", model, "--prompt", "hi", "--max-new-tokens", "8"], "at generated token 1 "),
            (["generate", model, "--prompt", "hi", "--json"], "at generated token 1 "),
            (["prune", model, "--target", "0.2", "--out", directory + "/pruned", "--calibration", alpaca, "--calibration-samples", "8", "--seq-len", "32"],
             "at calibration batch 1 "),
        ]
        for (command, place) in commands {
            let message = try OneLineError.assert(command, naming: model, saying: phrase, within: quickly)
            XCTAssertTrue(message.contains("the forward pass gave ") && message.contains(place), "\(command): \(message)")
        }
        // Fine-tuning logs its plan first; its loss is summed over ranks, where no layer is known: the place is named.
        for (heldOut, place) in [("0.05", "the held-out examples"), ("0", "fine-tuning step 1")] {
            let finetune = try MopProcess.run(["finetune", model, "--data", alpaca, "--out", directory + "/tuned-\(heldOut)",
                                               "--steps", "1", "--batch", "2", "--micro-batch", "2", "--held-out", heldOut], timeout: 120)
            XCTAssertEqual(finetune.status, 1, finetune.stderr)
            XCTAssertEqual(finetune.stdout, "")
            XCTAssertTrue(finetune.stderr.hasSuffix("mop: error: \(model): the forward pass gave NaN at \(place): the weights overflow fp32\n"),
                          finetune.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/tuned-\(heldOut)/model.gguf"))
        }
    }
}
