import Foundation
import XCTest
@testable import Shared

/// tokenizer.json with BPE and byte fallback (LLaMA-2, Mistral, Gemma) against ids recorded from Hugging Face
/// `tokenizers` (scripts/make-tokenizer-json-fixture.py: four styles of file over a part of LLaMA's vocabulary);
/// round trips, the writer for score-ranked SentencePiece, and malformed files.
final class TokenizerJSONByteFallbackTests: XCTestCase {
    private struct Case: Decodable {
        let text: String
        let ids: [Int32]
        let ids_with_special: [Int32]
        let decoded: String
    }

    private struct Variant: Decodable {
        let name: String
        let tokenizer_json: String
        let cases: [Case]
    }

    private struct Fixture: Decodable {
        let variants: [Variant]
    }

    private static func variants() throws -> [Variant] {
        let data = try Data(contentsOf: RealInputs.fixture("tokenizer-json-byte-fallback.json"))
        return try JSONDecoder().decode(Fixture.self, from: data).variants
    }

    private static func variant(_ name: String) throws -> Variant {
        try XCTUnwrap(variants().first { $0.name == name })
    }

    func testIdsEqualTokenizersOnEveryStyleOfFile() throws {
        let expected: [String: DummyPrefix] = ["legacy": .always, "metaspace-first-by-id": .firstUnlessSpace,
                                               "metaspace-always": .unlessSpace, "gemma": .none]
        let variants = try Self.variants()
        XCTAssertEqual(Set(variants.map(\.name)), Set(expected.keys))
        for variant in variants {
            let spec = try TokenizerJSON.parse(Data(variant.tokenizer_json.utf8), file: variant.name)
            XCTAssertEqual(spec.model, .sentencePiece)
            XCTAssertEqual(spec.mergePriority, .mergeList)
            XCTAssertEqual(spec.dummyPrefix, expected[variant.name], variant.name)
            XCTAssertEqual(spec.bosTokenId, 1)
            let tokenizer = try spec.tokenizer(file: variant.name)
            XCTAssertGreaterThan(variant.cases.count, 50)
            for item in variant.cases {
                XCTAssertEqual(tokenizer.encode(item.text, addingSpecialTokens: false), item.ids,
                               "\(variant.name): \(item.text.debugDescription)")
                XCTAssertEqual(tokenizer.encode(item.text, addingSpecialTokens: true), item.ids_with_special,
                               "\(variant.name): \(item.text.debugDescription)")
                XCTAssertEqual(tokenizer.decode(item.ids), item.decoded, "\(variant.name): \(item.text.debugDescription)")
            }
        }
    }

    /// The legacy file ranks merges by score, the transformers 5 style one by piece id: "▁▁" (the lowest score)
    /// then merges first, and the ids differ, as they do in `tokenizers`.
    func testMergesFollowTheFilesList() throws {
        let byScore = try Self.variant("legacy"), byId = try Self.variant("metaspace-first-by-id")
        let differing = zip(byScore.cases, byId.cases).filter { $0.ids != $1.ids }
        XCTAssertGreaterThan(differing.count, 10)
        let spec = try TokenizerJSON.parse(Data(byId.tokenizer_json.utf8), file: "by-id")
        let doubleSpace = try XCTUnwrap(spec.vocabulary.firstIndex(of: "\u{2581}\u{2581}"))
        XCTAssertTrue(spec.merges.prefix(3).contains("\u{2581} \u{2581}"), "\(spec.merges.prefix(3))")
        XCTAssertTrue(try spec.tokenizer().encode("a  b", addingSpecialTokens: false).contains(Int32(doubleSpace)))
    }

    func testRoundTripKeepsTheSpec() throws {
        for variant in try Self.variants() {
            let spec = try TokenizerJSON.parse(Data(variant.tokenizer_json.utf8), file: variant.name)
            let written = try TokenizerJSON.data(for: spec, file: "out.json")
            XCTAssertEqual(try TokenizerJSON.parse(written, file: "out.json"), spec, variant.name)
            XCTAssertEqual(try TokenizerJSON.data(for: TokenizerJSON.parse(written, file: "out.json"), file: "out.json"),
                           written, variant.name)
        }
    }

    /// A SentencePiece spec ranked by score (GGUF, tokenizer.model) is written with a merge for every split of a
    /// piece, in score order, and reads back as a merges-ranked spec that gives the same ids.
    func testScoreRankedSentencePieceIsWrittenWithMergesThatTokenizeTheSame() throws {
        for prefix in [DummyPrefix.always, .none] {
            let spec = TokenizerSentencePieceTests.spec(dummyPrefix: prefix)
            let read = try TokenizerJSON.parse(try TokenizerJSON.data(for: spec, file: "out.json"), file: "out.json")
            XCTAssertEqual(read.vocabulary, spec.vocabulary)
            // tokenizer.json has no unknown or unused types: `<unk>` is an added token, `<unused0>` an ordinary one.
            XCTAssertEqual(read.tokenTypes, spec.tokenTypes.map { type -> TokenType in
                type == .unknown ? .control : type == .unused ? .normal : type
            })
            XCTAssertEqual(read.dummyPrefix, prefix)
            XCTAssertEqual(read.unkTokenId, 0)
            // el (-1) ll (-2) he (-3) aa (-4) lo (-5) ▁h (-6): each piece's splits, best score first.
            XCTAssertEqual(read.merges, ["e l", "l l", "h e", "a a", "l o", "\u{2581} h"])
            let original = try spec.tokenizer(), reread = try read.tokenizer()
            for text in ["hello", "aaa", " hello  hell <tag>ohe aaaa", "<s>hello</s>", "h\u{e9}llo \u{1F600}"] {
                XCTAssertEqual(reread.encode(text, addingSpecialTokens: true), original.encode(text, addingSpecialTokens: true), text)
            }
        }
    }

    func testScoreFormatsRefuseAMergesRankedSpec() throws {
        let spec = try TokenizerJSON.parse(Data(Self.variant("legacy").tokenizer_json.utf8), file: "in.json")
        assertMopError(try SentencePieceModelFile.data(spec, file: "hf/tokenizer.model"), path: "hf/tokenizer.model",
                       problem: "merges by its merges list")
        assertMopError(try GGUFTokenizer.metadata(for: spec, file: "model.gguf"), path: "model.gguf",
                       problem: "merges by its merges list")
        var metaspace = TokenizerSentencePieceTests.spec()
        metaspace.dummyPrefix = .firstUnlessSpace
        assertMopError(try GGUFTokenizer.metadata(for: metaspace, file: "model.gguf"), path: "model.gguf",
                       problem: "Metaspace dummy prefix")
    }

    func testMalformedFilesThrowErrorsNamingTheFile() throws {
        let valid = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(Self.variant("legacy").tokenizer_json.utf8))
            as? [String: Any])
        typealias Edit = (inout [String: Any]) -> Void
        func model(_ edit: @escaping (inout [String: Any]) -> Void) -> Edit {
            { root in
                var model = root["model"] as? [String: Any] ?? [:]
                edit(&model)
                root["model"] = model
            }
        }
        let cases: [(String, Edit)] = [
            ("byte_fallback without the byte token <0x41>", model {
                var vocab = $0["vocab"] as? [String: Int] ?? [:]
                vocab["<0x41>"] = nil
                vocab["zz"] = 68
                $0["vocab"] = vocab
            }),
            ("unsupported model.ignore_merges", model { $0["ignore_merges"] = true }),
            ("unsupported model.dropout", model { $0["dropout"] = 0.5 }),
            ("merge 0 ", model { $0["merges"] = [["\u{2581}", "zz"]] }),
            ("model.unk_token", model { $0["unk_token"] = "<nope>" }),
            ("unsupported normalizer", { $0["normalizer"] = ["type": "NFKC"] }),
            ("unsupported normalizer", { $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}",
                                                                 "prepend_scheme": "first", "split": false] }),
            ("unsupported normalizer", { root in
                root["normalizer"] = NSNull()
                root["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "first",
                                         "split": true]
            }),
            ("unsupported decoder", { $0["decoder"] = NSNull() }),
            // The legacy normalizer adds a prefix, so the decoder must strip it.
            ("unsupported decoder", { root in
                var decoder = root["decoder"] as? [String: Any] ?? [:]
                decoder["decoders"] = Array((decoder["decoders"] as? [Any] ?? []).dropLast())
                root["decoder"] = decoder
            }),
            ("unsupported normalized added token", { root in
                var added = root["added_tokens"] as? [[String: Any]] ?? []
                added[0]["normalized"] = true
                root["added_tokens"] = added
            }),
            ("unsupported lstrip", { root in
                var added = root["added_tokens"] as? [[String: Any]] ?? []
                added[1]["lstrip"] = true
                root["added_tokens"] = added
            }),
        ]
        for (problem, edit) in cases {
            var root = valid
            edit(&root)
            let data = try JSONSerialization.data(withJSONObject: root)
            assertMopError(try TokenizerJSON.parse(data, file: "bad/tokenizer.json"), path: "bad/tokenizer.json",
                           problem: problem)
        }
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
