import Foundation
import XCTest
@testable import Shared

/// SmolLM2's tokenizer against ids recorded from Hugging Face `tokenizers` (scripts/make-tokenizer-fixture.py).
final class TokenizerSmolLM2Tests: XCTestCase {
    private struct Fixture {
        var wikitextPrefix: String
        var wikitextIds: [Int32]
        var cases: [(text: String, ids: [Int32])]
    }

    private static func loadFixture() throws -> Fixture {
        let url = RealInputs.fixture("tokenizer-smollm2.json")
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let prefix = try XCTUnwrap(root["wikitext_prefix"] as? String)
        let ids = try XCTUnwrap(root["wikitext_ids"] as? String).split(separator: " ").map { try XCTUnwrap(Int32($0)) }
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]]).map { entry in
            (text: try XCTUnwrap(entry["text"] as? String),
             ids: try XCTUnwrap(entry["ids"] as? [Int]).map { Int32($0) })
        }
        return Fixture(wikitextPrefix: prefix, wikitextIds: ids, cases: cases)
    }

    private static func tokenizer() throws -> BPETokenizer {
        try BPETokenizer(smolLM2TokenizerSpec())
    }

    func testSpecMatchesTheModel() throws {
        let spec = try smolLM2TokenizerSpec()
        XCTAssertEqual(spec.vocabulary.count, 49152)
        XCTAssertEqual(spec.merges.count, 48900)
        XCTAssertEqual(spec.preTokenizer, .smollm)
        XCTAssertEqual(spec.specialTokenIds, Array(0...16))
        XCTAssertFalse(spec.addBos)
        XCTAssertEqual(spec.merges.first, "Ġ t")
    }

    func testWikiTextPrefixMatchesHuggingFace() throws {
        let fixture = try Self.loadFixture()
        let tokenizer = try Self.tokenizer()
        XCTAssertEqual(fixture.wikitextPrefix.unicodeScalars.count, 20_000)
        let ids = tokenizer.encode(fixture.wikitextPrefix)
        XCTAssertEqual(ids.count, fixture.wikitextIds.count)
        if let first = zip(ids, fixture.wikitextIds).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            XCTFail("first difference at token \(first): \(ids[first]) vs HF \(fixture.wikitextIds[first])")
        }
        XCTAssertEqual(tokenizer.decode(ids), fixture.wikitextPrefix)
    }

    func testTrickyStringsMatchHuggingFace() throws {
        let fixture = try Self.loadFixture()
        let tokenizer = try Self.tokenizer()
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 30)
        for (text, expected) in fixture.cases {
            XCTAssertEqual(tokenizer.encode(text), expected, "encoding \(text.debugDescription)")
            XCTAssertEqual(tokenizer.decode(expected), text, "decoding HF's ids for \(text.debugDescription)")
        }
    }

    func testSpecialTokensAndAccessors() throws {
        let tokenizer = try Self.tokenizer()
        XCTAssertEqual(tokenizer.tokenCount, 49152)
        XCTAssertEqual(tokenizer.id(of: "<|im_start|>"), 1)
        XCTAssertEqual(tokenizer.id(of: "Ġt"), tokenizer.encode(" t").first)
        XCTAssertNil(tokenizer.id(of: "no such token"))
        XCTAssertEqual(tokenizer.encode("<|im_end|>"), [2])
        // Bytes SmolLM2's vocabulary lacks (0x04, 0xF1) vanish without a trace; ids from HF tokenizers 0.23.3.
        XCTAssertEqual(tokenizer.encode("hello\u{04}world"), [28120, 6693])
        XCTAssertEqual(tokenizer.encode(" \u{04}"), [216])
        XCTAssertEqual(tokenizer.encode("\u{04}"), [])
        XCTAssertEqual(tokenizer.encode("\u{40000}x"), [218, 218, 218, 104])
    }

    /// Encoding speed on the whole WikiText-2 test file: printed, not asserted (run with `-c release` for real numbers).
    func testEncodingSpeedOnWikiText() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: RealInputs.sharedData("text/wikitext2-test.txt")))
        let text = String(decoding: data, as: UTF8.self)
        let tokenizer = try Self.tokenizer()
        let start = Date()
        let ids = tokenizer.encode(text)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "encoded %d bytes of WikiText-2 into %d tokens in %.3f s", data.count, ids.count, seconds))
        XCTAssertEqual(tokenizer.decode(ids), text)
    }
}
