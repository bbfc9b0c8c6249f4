import Foundation
import XCTest
@testable import Shared

/// tokenizer_config.json and generation_config.json: what mop writes, round trips through `HFModelDirectory`, real
/// transformers files, and malformed files that must fail with errors naming the file.
final class HFTokenizerConfigTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "mop-tokenizer-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    static let template = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}{% endfor %}"

    /// The 256 byte symbols, then <|endoftext|> (256), <|im_start|> (257), <|im_end|> (258), SmolLM2's roles.
    static func chatSpec(addBos: Bool = false) -> TokenizerSpec {
        TokenizerSpec(vocabulary: (0..<256).map { ByteLevel.encode([UInt8($0)]) } + ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                      merges: [], preTokenizer: .smollm, specialTokenIds: [256, 257, 258], bosTokenId: 257, eosTokenId: 258,
                      addBos: addBos, chatTemplate: template, padTokenId: 258, unkTokenId: 256)
    }

    private func object(_ data: Data) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func write(_ text: String, _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testWrittenKeysAreWhatTransformersWritesForAGPT2Tokenizer() throws {
        let config = try HFTokenizerConfig(spec: Self.chatSpec(), maxPositions: 2048, file: "x")
        let json = try object(config.data())
        XCTAssertEqual(json["chat_template"] as? String, Self.template)
        XCTAssertEqual(json["bos_token"] as? String, "<|im_start|>")
        XCTAssertEqual(json["eos_token"] as? String, "<|im_end|>")
        XCTAssertEqual(json["pad_token"] as? String, "<|im_end|>")
        XCTAssertEqual(json["unk_token"] as? String, "<|endoftext|>")
        XCTAssertEqual(json["add_bos_token"] as? Bool, false)
        XCTAssertEqual(json["add_eos_token"] as? Bool, false)
        XCTAssertEqual(json["add_prefix_space"] as? Bool, false)
        XCTAssertEqual(json["clean_up_tokenization_spaces"] as? Bool, false)
        XCTAssertEqual(json["model_max_length"] as? Int, 2048)
        XCTAssertEqual(json["tokenizer_class"] as? String, "GPT2Tokenizer")
        let added = try XCTUnwrap(json["added_tokens_decoder"] as? [String: [String: Any]])
        XCTAssertEqual(Set(added.keys), ["256", "257", "258"])
        XCTAssertEqual(added["257"]?["content"] as? String, "<|im_start|>")
        XCTAssertEqual(added["257"]?["special"] as? Bool, true)
        XCTAssertEqual(added["257"]?["normalized"] as? Bool, false)

        let generation = try object(HFGenerationConfig(spec: Self.chatSpec()).data())
        XCTAssertEqual(generation as NSDictionary, ["bos_token_id": 257, "eos_token_id": 258, "pad_token_id": 258])
    }

    func testBothFilesRoundTrip() throws {
        let config = try HFTokenizerConfig(spec: Self.chatSpec(addBos: true), maxPositions: 512, file: "x")
        XCTAssertEqual(try HFTokenizerConfig.parse(config.data(), file: "x"), config)
        for generation in [HFGenerationConfig(spec: Self.chatSpec()),
                           HFGenerationConfig(tokens: HFSpecialTokenIds(bos: 1, eos: [5, 6])), HFGenerationConfig()] {
            XCTAssertEqual(try HFGenerationConfig.parse(generation.data(), file: "g"), generation)
        }
        XCTAssertTrue(HFGenerationConfig().isEmpty)
        XCTAssertFalse(HFGenerationConfig(padTokenId: 0).isEmpty)
    }

    /// The tokenizer files mop writes into a directory read back as the same spec: byte-level BPE as tokenizer.json,
    /// SentencePiece as tokenizer.model, both with tokenizer_config.json.
    func testDirectoryRoundTripKeepsTemplateAndSpecialTokens() throws {
        var sentencePiece = TokenizerSentencePieceTests.spec(dummyPrefix: .none, addEos: true)
        sentencePiece.addBos = false
        sentencePiece.chatTemplate = Self.template
        sentencePiece.padTokenId = 2
        for (index, spec) in [Self.chatSpec(), Self.chatSpec(addBos: true), TokenizerSentencePieceTests.spec(),
                              sentencePiece].enumerated() {
            let folder = directory + "/hf-\(index)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try HFModelDirectory.writeTokenizer(spec, maxPositions: 64, to: folder)
            XCTAssertEqual(try HFModelDirectory.readTokenizer(in: folder), spec)
            let written = try FileManager.default.contentsOfDirectory(atPath: folder)
            XCTAssertTrue(written.contains(spec.model == .sentencePiece ? SentencePieceModelFile.fileName : "tokenizer.json"))
            let config = try HFTokenizerConfig.parse(Data(contentsOf: URL(fileURLWithPath: folder + "/tokenizer_config.json")), file: "c")
            XCTAssertEqual(config.tokenizerClass, spec.model == .sentencePiece ? "PreTrainedTokenizerFast" : "GPT2Tokenizer")
            XCTAssertEqual(config.addPrefixSpace, spec.model == .sentencePiece ? nil : false)
        }
    }

    /// HuggingFaceTB/SmolLM2-135M-Instruct's tokenizer_config.json as published (trimmed to three added tokens), with
    /// the AddedToken-object form of older files for unk_token.
    func testReadsAPublishedConfig() throws {
        let text = """
        {"add_prefix_space": false,
         "added_tokens_decoder": {
           "256": {"content": "<|endoftext|>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
           "257": {"content": "<|im_start|>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
           "258": {"content": "<|im_end|>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true}},
         "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
         "bos_token": "<|im_start|>",
         "chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "chatml"}],
         "clean_up_tokenization_spaces": false,
         "eos_token": "<|im_end|>",
         "model_max_length": 1000000000000000019884624838656,
         "pad_token": "<|im_end|>",
         "tokenizer_class": "GPT2Tokenizer",
         "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false},
         "vocab_size": 49152}
        """
        let config = try HFTokenizerConfig.parse(Data(text.utf8), file: "c")
        XCTAssertEqual(config.chatTemplate, "chatml")
        XCTAssertNil(config.modelMaxLength, "1e30 is transformers' unlimited")
        XCTAssertNil(config.addBosToken)
        var plain = Self.chatSpec()
        (plain.bosTokenId, plain.eosTokenId, plain.padTokenId, plain.unkTokenId, plain.chatTemplate) = (nil, nil, nil, nil, nil)
        let applied = try config.applied(to: plain, file: "c")
        XCTAssertEqual(applied.bosTokenId, 257)
        XCTAssertEqual(applied.eosTokenId, 258)
        XCTAssertEqual(applied.padTokenId, 258)
        XCTAssertEqual(applied.unkTokenId, 256)
        XCTAssertEqual(applied.chatTemplate, "chatml")
        XCTAssertFalse(applied.addBos, "add_bos_token absent: tokenizer.json's post-processor decides")
    }

    /// Ids tokenizer_config.json leaves unstated come from generation_config.json, then config.json; the template
    /// from chat_template.jinja when tokenizer_config.json has none.
    func testMissingIdsFallBackToGenerationConfigThenConfigJSON() throws {
        var plain = Self.chatSpec()
        (plain.bosTokenId, plain.eosTokenId, plain.padTokenId, plain.unkTokenId, plain.chatTemplate) = (nil, nil, nil, nil, nil)
        try TokenizerJSON.write(plain, to: directory + "/tokenizer.json")
        _ = try write(#"{"unk_token": "<|endoftext|>"}"#, HFTokenizerConfig.fileName)
        _ = try write(#"{"eos_token_id": [258, 256], "pad_token_id": 256}"#, HFGenerationConfig.fileName)
        _ = try write(#"{"bos_token_id": 257, "eos_token_id": 1}"#, HFModelDirectory.configName)
        _ = try write("{{ messages }}", HFModelDirectory.chatTemplateName)
        let spec = try XCTUnwrap(try HFModelDirectory.readTokenizer(in: directory))
        XCTAssertEqual(spec.unkTokenId, 256)
        XCTAssertEqual(spec.eosTokenId, 258, "generation_config.json's first EOS wins over config.json's")
        XCTAssertEqual(spec.padTokenId, 256)
        XCTAssertEqual(spec.bosTokenId, 257)
        XCTAssertEqual(spec.chatTemplate, "{{ messages }}")
    }

    func testMalformedTokenizerConfigNamesTheFileAndTheProblem() throws {
        let cases: [(String, String)] = [
            ("not json", "not valid JSON"),
            ("[1, 2]", "not a JSON object"),
            (#"{"chat_template": 5}"#, "key chat_template must be a string"),
            (#"{"chat_template": [{"name": "tool_use", "template": "t"}]}"#, "no template named \"default\""),
            (#"{"chat_template": [7]}"#, "chat_template[0] is not a {\"name\", \"template\"} object"),
            (#"{"bos_token": 1}"#, "key bos_token must be a string"),
            (#"{"eos_token": {"__type": "AddedToken"}}"#, "key eos_token.content is missing"),
            (#"{"add_bos_token": "yes"}"#, "key add_bos_token must be true or false"),
            (#"{"model_max_length": "long"}"#, "key model_max_length must be a number"),
            (#"{"model_max_length": 0}"#, "model_max_length = 0.0 is not a positive length"),
            (#"{"added_tokens_decoder": {"x": {"content": "a"}}}"#, "added_tokens_decoder.x is not a token id"),
            (#"{"added_tokens_decoder": {"3": {"special": true}}}"#, "key added_tokens_decoder.3.content is missing"),
        ]
        for (text, problem) in cases {
            let path = try write(text, HFTokenizerConfig.fileName)
            assertMopError(path, problem) { try HFTokenizerConfig.parse(Data(text.utf8), file: path) }
        }
        // Well-formed JSON that does not fit the tokenizer beside it.
        let mismatched: [(String, String)] = [
            (#"{"bos_token": "<s>"}"#, "bos_token \"<s>\" is not a token of the tokenizer"),
            (#"{"added_tokens_decoder": {"257": {"content": "<s>"}}}"#, "gives id 257 to \"<s>\", the tokenizer has \"<|im_start|>\""),
            (#"{"added_tokens_decoder": {"900": {"content": "<s>"}}}"#, "the tokenizer has no such id"),
        ]
        var noBos = Self.chatSpec()
        noBos.bosTokenId = nil
        var noEos = Self.chatSpec()
        noEos.eosTokenId = nil
        assertMopError("c.json", "add_eos_token is true but no eos_token is given") {
            try HFTokenizerConfig(addEosToken: true).applied(to: noEos, file: "c.json")
        }
        for (text, problem) in mismatched {
            assertMopError("c.json", problem) { try HFTokenizerConfig.parse(Data(text.utf8), file: "c.json").applied(to: noBos, file: "c.json") }
        }
        assertMopError("c.json", "add_bos_token is true but no bos_token is given") {
            try HFTokenizerConfig(addBosToken: true).applied(to: noBos, file: "c.json")
        }
        assertMopError("w.json", "token id 300 is outside the vocabulary of 259 tokens") {
            var bad = Self.chatSpec()
            bad.padTokenId = 300
            return try HFTokenizerConfig(spec: bad, maxPositions: 8, file: "w.json")
        }
    }

    func testMalformedGenerationConfigNamesTheFileAndTheProblem() throws {
        let cases: [(String, String)] = [
            ("{", "not valid JSON"),
            (#"{"eos_token_id": "2"}"#, "key eos_token_id must be an integer"),
            (#"{"eos_token_id": [2, "x"]}"#, "key eos_token_id must be an integer"),
            (#"{"pad_token_id": -1}"#, "key pad_token_id = -1 is out of range"),
            (#"{"bos_token_id": true}"#, "key bos_token_id must be an integer"),
        ]
        for (text, problem) in cases {
            let path = try write(text, HFGenerationConfig.fileName)
            assertMopError(path, problem) { try HFGenerationConfig.parse(Data(text.utf8), file: path) }
        }
        // Through the directory reader: an id beyond the vocabulary of tokenizer.json (which states no pad id).
        try TokenizerJSON.write(Self.chatSpec(), to: directory + "/tokenizer.json")
        let path = try write(#"{"pad_token_id": 259}"#, HFGenerationConfig.fileName)
        assertMopError(path, "token id 259 is outside the vocabulary of 259 tokens") { try HFModelDirectory.readTokenizer(in: directory) }
    }
}
