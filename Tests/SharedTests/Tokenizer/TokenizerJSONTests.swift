import Foundation
import XCTest
@testable import Shared

/// tokenizer.json: round trips, both merge forms, and malformed files that must fail with errors naming the file.
final class TokenizerJSONTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "mop-tokenizer-json-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func tinySpec(kind: PreTokenizerKind = .smollm, addBos: Bool = false) -> TokenizerSpec {
        TokenizerBPETests.spec(merges: ["a b", "ab c", "Ġ b"], specials: [263, 264], bos: addBos ? 263 : nil,
                               addBos: addBos, kind: kind)
    }

    /// A valid tiny tokenizer.json as a mutable object, for breaking one part at a time.
    private func tinyJSON() throws -> [String: Any] {
        let data = try TokenizerJSON.data(for: tinySpec(), file: "tiny.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func write(_ object: Any) throws -> String {
        let path = directory + "/tokenizer.json"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testRoundTripKeepsTheSpec() throws {
        var escaped = tinySpec()
        escaped.vocabulary[264] = "<\"q\\\u{1}\n\u{1F}/é>"
        let kinds = PreTokenizerKind.all.map { tinySpec(kind: $0) }
        XCTAssertEqual(kinds.count, 7)
        for spec in kinds + [tinySpec(addBos: true), escaped] {
            let path = directory + "/tokenizer.json"
            try TokenizerJSON.write(spec, to: path)
            XCTAssertEqual(try TokenizerJSON.read(path: path), spec)
        }
    }

    func testSmolLM2RoundTrip() throws {
        // EOS, pad, unk, the chat template and a BOS that is not added live in tokenizer_config.json, not in
        // tokenizer.json.
        var spec = try smolLM2TokenizerSpec()
        spec.eosTokenId = nil
        spec.padTokenId = nil
        spec.unkTokenId = nil
        spec.chatTemplate = nil
        if !spec.addBos { spec.bosTokenId = nil }
        let path = directory + "/tokenizer.json"
        try TokenizerJSON.write(spec, to: path)
        XCTAssertEqual(try TokenizerJSON.read(path: path), spec)
    }

    func testMergesInPairFormAndAddedTokensBeyondTheVocab() throws {
        var root = try tinyJSON()
        var model = try XCTUnwrap(root["model"] as? [String: Any])
        model["merges"] = [["a", "b"], ["ab", "c"]]
        var vocab = try XCTUnwrap(model["vocab"] as? [String: Int])
        vocab["<s>x"] = nil
        model["vocab"] = vocab
        root["model"] = model
        let spec = try TokenizerJSON.read(path: write(root))
        XCTAssertEqual(spec.merges, ["a b", "ab c"])
        XCTAssertEqual(spec.vocabulary.last, "<s>x", "added token 264 fills the id model.vocab lacks")
        XCTAssertEqual(spec.specialTokenIds, [263, 264])
        XCTAssertEqual(try BPETokenizer(spec).encode("abc<s>x"), [258, 264])
    }

    func testMalformedFilesThrowErrorsNamingTheFile() throws {
        typealias Edit = (inout [String: Any]) -> Void
        func model(_ edit: @escaping (inout [String: Any]) -> Void) -> Edit {
            { root in
                var model = root["model"] as? [String: Any] ?? [:]
                edit(&model)
                root["model"] = model
            }
        }
        let cases: [(String, Edit)] = [
            ("missing model", { $0["model"] = nil }),
            ("missing model.vocab", model { $0["vocab"] = nil }),
            ("unsupported model type WordPiece", model { $0["type"] = "WordPiece" }),
            ("no token with id 5", model { $0["vocab"] = ["a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 6] }),
            ("gives id 1 to both", model { $0["vocab"] = ["a": 0, "b": 1, "c": 1] }),
            ("is not an integer id", model { $0["vocab"] = ["a": "zero"] }),
            ("out of range", model { $0["vocab"] = ["a": -1] }),
            ("is not an integer id", model { $0["vocab"] = ["a": 1.5] }),
            ("unsupported model.unk_token", model {
                // Byte 0x04's token gives way to another, so HF would emit the unk token where mop drops the byte.
                var vocab = $0["vocab"] as? [String: Int] ?? [:]
                vocab["\u{104}"] = nil
                vocab["zz"] = 4
                $0["vocab"] = vocab
                $0["unk_token"] = "zz"
            }),
            ("missing model.merges", model { $0["merges"] = nil }),
            ("model.merges[0]", model { $0["merges"] = [[1, 2]] }),
            ("model.merges[1]", model { $0["merges"] = ["a b", ["a", "b", "c"]] }),
            ("missing from the vocabulary", model { $0["merges"] = ["a zz"] }),
            ("not two tokens", model { $0["merges"] = ["abc"] }),
            // Byte fallback is SentencePiece's kind (TokenizerJSONByteFallbackTests), which needs the byte tokens.
            ("byte_fallback without the byte token <0x00>", model { $0["byte_fallback"] = true }),
            // ignore_merges goes with LLaMA-3's split only.
            ("normalizer none and ignore_merges true", model { $0["ignore_merges"] = true }),
            ("unsupported model.dropout", model { $0["dropout"] = 0.1 }),
            ("unsupported model.continuing_subword_prefix", model { $0["continuing_subword_prefix"] = "##" }),
            ("normalizer NFC and ignore_merges false", { $0["normalizer"] = ["type": "NFC"] }),
            ("unsupported normalizer", { $0["normalizer"] = ["type": "NFKC"] }),
            ("unsupported pre_tokenizer", { $0["pre_tokenizer"] = ["type": "Whitespace"] }),
            // A LLaMA-3 style split regex must be one of the exact spellings, and go with its row's normalizer and
            // ignore_merges: LLaMA-3's (three digits) has no NFC, Qwen2's (one digit) has it.
            ("unsupported pre_tokenizer", {
                $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": TokenizerJSON.llama3Pattern(maxDigits: 1) + "|x"],
                     "behavior": "Isolated", "invert": false],
                    ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
                ]]
            }),
            ("pre_tokenizer llama3(maxDigits: 3), normalizer NFC and ignore_merges false", {
                $0["normalizer"] = ["type": "NFC"]
                $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": TokenizerJSON.llama3Pattern(maxDigits: 3)],
                     "behavior": "Isolated", "invert": false],
                    ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
                ]]
            }),
            ("pre_tokenizer llama3(maxDigits: 1), normalizer none and ignore_merges false", {
                $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": TokenizerJSON.llama3Pattern(maxDigits: 1)],
                     "behavior": "Isolated", "invert": false],
                    ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
                ]]
            }),
            ("unsupported pre_tokenizer", { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true] }),
            ("unsupported pre_tokenizer", { $0["pre_tokenizer"] = nil }),
            ("unsupported pre_tokenizer", {
                $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                    ["type": "Digits", "individual_digits": false],
                    ["type": "ByteLevel", "add_prefix_space": false],
                ]]
            }),
            ("unsupported decoder", { $0["decoder"] = ["type": "Metaspace"] }),
            ("unsupported post_processor", { $0["post_processor"] = ["type": "BertProcessing"] }),
            ("unsupported normalized non-special added token", {
                $0["normalizer"] = ["type": "NFC"]
                $0["added_tokens"] = [["id": 263, "content": "<s>", "special": false]]
            }),
            ("unsupported lstrip", {
                $0["added_tokens"] = [["id": 263, "content": "<s>", "special": true, "lstrip": true]]
            }),
            ("added_tokens[0] lacks", { $0["added_tokens"] = [["content": "<s>", "special": true]] }),
            ("added_tokens gives id 3 to both", { $0["added_tokens"] = [["id": 3, "content": "<s>", "special": true]] }),
        ]
        for (problem, edit) in cases {
            var root = try tinyJSON()
            edit(&root)
            let path = try write(root)
            assertMopError(try TokenizerJSON.read(path: path), path: path, problem: problem)
        }
    }

    func testFilesThatAreNotTokenizerJSON() throws {
        let path = directory + "/tokenizer.json"
        let cases = [("{\"model\": ", "not valid JSON"), ("", "not valid JSON"), ("[1, 2]", "not a JSON object")]
        for (content, problem) in cases {
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            assertMopError(try TokenizerJSON.read(path: path), path: path, problem: problem)
        }
        let missing = directory + "/absent.json"
        assertMopError(try TokenizerJSON.read(path: missing), path: missing, problem: "no such file or directory")
    }

    func testWriterRejectsWhatTokenizerJSONCannotHold() {
        let path = directory + "/tokenizer.json"
        var duplicated = tinySpec()
        duplicated.vocabulary[256] = "a"
        assertMopError(try TokenizerJSON.write(duplicated, to: path), path: path, problem: "appears twice")
        var badSpecial = tinySpec()
        badSpecial.specialTokenIds = [4000]
        assertMopError(try TokenizerJSON.write(badSpecial, to: path), path: path, problem: "outside the vocabulary")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing is written on error")
    }

    private func assertMopError<T>(_ body: @autoclosure () throws -> T, path: String, problem: String,
                                   line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            let text = String(describing: error)
            XCTAssertTrue(error is MopError, "\(type(of: error)): \(text)", line: line)
            XCTAssertTrue(text.hasPrefix(path + ": ") && text.contains(problem), "\(problem) not in: \(text)", line: line)
        }
    }
}
