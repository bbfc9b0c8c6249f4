import Foundation
import XCTest
@testable import Shared

/// The chat template and special tokens survive `mop prune` and then `mop finetune` of the pruned HF export:
/// `mop generate OUT --chat` feeds the model exactly the ChatML wrapping, and the exported tokenizer_config.json and
/// generation_config.json state the source model's tokens.
final class ChatExportTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// SmolLM2's template, which inserts a default system turn.
    static let template = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        + "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
        + "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    /// The 256 byte symbols (id = byte, no merges), then <|endoftext|> 256 (unk), <|im_start|> 257 (bos),
    /// <|im_end|> 258 (eos and pad), as SmolLM2 assigns them.
    static let tokenizer = TokenizerSpec(
        vocabulary: (0..<256).map { ByteLevel.encode([UInt8($0)]) } + ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        merges: [], preTokenizer: .smollm, specialTokenIds: [256, 257, 258], bosTokenId: 257, eosTokenId: 258,
        addBos: false, chatTemplate: template, padTokenId: 258, unkTokenId: 256)

    func chatModel() throws -> String {
        let config = ModelConfig(vocabSize: 259, hidden: 32, headDim: 8,
                                 layers: [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 64), count: 4),
                                 tiedEmbeddings: true, maxPositions: 512)
        let path = directory + "/chat.gguf"
        try GGUFWriter.write(weights: .random(config: config, seed: 4), tokenizer: Self.tokenizer, to: path, type: .f32)
        return path
    }

    /// The ids of SmolLM2's ChatML wrapping of `prompt`, spelled out: byte tokens are their byte values here.
    func chatMLIds(_ prompt: String) -> [Int] {
        func bytes(_ text: String) -> [Int] { text.utf8.map(Int.init) }
        let (start, end, newline) = ([257], [258], bytes("\n"))
        return start + bytes("system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face") + end + newline
            + start + bytes("user\n" + prompt) + end + newline + start + bytes("assistant\n")
    }

    func assertChatGeneration(_ model: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let prompt = "Name 3 colours."
        let run = try MopProcess.run(["generate", model, "--prompt", prompt, "--chat", "--max-new-tokens", "3", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
        let json = try XCTUnwrap(run.json, run.stdout, file: file, line: line)
        XCTAssertEqual(json["prompt_token_ids"] as? [Int], chatMLIds(prompt), file: file, line: line)
        XCTAssertEqual(json["prompt_tokens"] as? Int, chatMLIds(prompt).count, file: file, line: line)
    }

    /// The HF folder's tokenizer_config.json and generation_config.json state the source's tokens and template.
    func assertTokenizerFiles(_ folder: String, maxPositions: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        func object(_ name: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], name, file: file, line: line)
        }
        let config = try object("tokenizer_config.json")
        XCTAssertEqual(config["chat_template"] as? String, Self.template, file: file, line: line)
        XCTAssertEqual(config["bos_token"] as? String, "<|im_start|>", file: file, line: line)
        XCTAssertEqual(config["eos_token"] as? String, "<|im_end|>", file: file, line: line)
        XCTAssertEqual(config["pad_token"] as? String, "<|im_end|>", file: file, line: line)
        XCTAssertEqual(config["unk_token"] as? String, "<|endoftext|>", file: file, line: line)
        XCTAssertEqual(config["add_bos_token"] as? Bool, false, file: file, line: line)
        XCTAssertEqual(config["model_max_length"] as? Int, maxPositions, file: file, line: line)
        let generation = try object("generation_config.json")
        XCTAssertEqual(generation["bos_token_id"] as? Int, 257, file: file, line: line)
        XCTAssertEqual(generation["eos_token_id"] as? Int, 258, file: file, line: line)
        XCTAssertEqual(generation["pad_token_id"] as? Int, 258, file: file, line: line)
        let modelConfig = try object("config.json")
        XCTAssertEqual(modelConfig["bos_token_id"] as? Int, 257, file: file, line: line)
        XCTAssertEqual(modelConfig["eos_token_id"] as? Int, 258, file: file, line: line)
    }

    func testPrunedAndFinetunedExportsKeepTheChatTemplate() throws {
        let model = try chatModel(), pruned = directory + "/pruned", tuned = directory + "/tuned"
        let data = try TinyByteModel.alpaca(rows: 12, in: directory)
        let prune = try MopProcess.run(["prune", model, "--target", "0.2", "--out", pruned, "--calibration", data,
                                        "--calibration-samples", "8", "--json"], timeout: 200)
        XCTAssertEqual(prune.status, 0, prune.stderr)
        try assertTokenizerFiles(pruned + "/hf", maxPositions: 512)
        // Both exports load back with the source's tokenizer, template and special tokens included.
        XCTAssertEqual(try ModelLoader.load(path: pruned + "/hf").tokenizer, Self.tokenizer)
        XCTAssertEqual(try ModelLoader.load(path: pruned + "/model.gguf").tokenizer, Self.tokenizer)
        try assertChatGeneration(pruned + "/hf")
        try assertChatGeneration(pruned + "/model.gguf")

        // Fine-tuning the HF export (not the GGUF) shows the template is read from tokenizer_config.json.
        let finetune = try MopProcess.run(["finetune", pruned + "/hf", "--data", data, "--out", tuned, "--steps", "2",
                                           "--batch", "2", "--micro-batch", "2", "--lora-rank", "2", "--held-out", "0.25"],
                                          timeout: 200)
        XCTAssertEqual(finetune.status, 0, finetune.stderr)
        try assertTokenizerFiles(tuned + "/hf", maxPositions: 512)
        XCTAssertEqual(try ModelLoader.load(path: tuned).tokenizer, Self.tokenizer)
        XCTAssertEqual(try ModelLoader.load(path: tuned + "/model.gguf").tokenizer, Self.tokenizer)
        try assertChatGeneration(tuned)
    }

    /// A broken tokenizer_config.json in an HF directory is a one-line error naming it, not a crash.
    func testMalformedTokenizerConfigIsAnErrorNamingTheFile() throws {
        let folder = directory + "/hf"
        try HFModelDirectory.write(.random(config: ModelConfig(vocabSize: 259, hidden: 16, headDim: 4,
                                                               layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 16)],
                                                               tiedEmbeddings: true, maxPositions: 64), seed: 1), to: folder)
        try HFModelDirectory.writeTokenizer(Self.tokenizer, maxPositions: 64, to: folder)
        let path = folder + "/tokenizer_config.json"
        try Data(#"{"chat_template": ["oops"]}"#.utf8).write(to: URL(fileURLWithPath: path))
        let run = try MopProcess.run(["generate", folder, "--prompt", "hi", "--chat"])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.stderr, "mop: error: \(path): key chat_template[0] is not a {\"name\", \"template\"} object\n")

        let generation = folder + "/generation_config.json"
        try Data(#"{"chat_template": "x"}"#.utf8).write(to: URL(fileURLWithPath: path))
        try Data(#"{"eos_token_id": "<|im_end|>"}"#.utf8).write(to: URL(fileURLWithPath: generation))
        let bad = try MopProcess.run(["generate", folder, "--prompt", "hi"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("mop: error: \(generation): key eos_token_id must be an integer"), bad.stderr)
    }
}
