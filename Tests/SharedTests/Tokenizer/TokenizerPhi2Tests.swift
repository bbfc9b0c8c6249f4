import Foundation
import XCTest
@testable import Shared

/// Phi-2's 38 added tokens of runs of spaces and tabs on GPT-2's byte-level BPE (the suite's ggml-vocab-gpt-2.gguf),
/// against ids recorded from Hugging Face `tokenizers` (scripts/check-phi2-tokenizer.py --fixture).
final class TokenizerPhi2Tests: XCTestCase {
    private struct Case: Decodable {
        let text: String
        let ids: [Int32]
    }

    private struct Fixture: Decodable {
        let added: [String]
        let cases: [Case]
    }

    /// GPT-2's tokenizer with the added tokens as a GGUF from llama.cpp's converter has them: user-defined, from id
    /// 50257 on.
    private func phi2Spec(_ fixture: Fixture) throws -> TokenizerSpec {
        let path = try RealInputs.tokenizerSuite() + "/ggml-vocab-gpt-2.gguf"
        var spec = try XCTUnwrap(GGUFTokenizer.read(from: GGUFFile(path: path)))
        XCTAssertEqual(spec.vocabulary.count, 50257)
        var types = spec.resolvedTokenTypes
        for text in fixture.added {
            spec.specialTokenIds.append(Int32(spec.vocabulary.count))
            spec.vocabulary.append(text)
            types.append(.userDefined)
        }
        spec.tokenTypes = types
        return spec
    }

    private func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: RealInputs.fixture("tokenizer-phi2-whitespace.json")))
    }

    func testWhitespaceRunsAreTheAddedTokensAsInTokenizers() throws {
        let fixture = try fixture()
        XCTAssertEqual(fixture.added.count, 38)
        let tokenizer = try phi2Spec(fixture).tokenizer()
        var addedSeen = 0
        for item in fixture.cases {
            XCTAssertEqual(tokenizer.encode(item.text, addingSpecialTokens: false), item.ids, item.text.debugDescription)
            XCTAssertEqual(tokenizer.decode(item.ids), item.text, item.text.debugDescription)
            addedSeen += item.ids.filter { $0 > 50256 }.count
        }
        XCTAssertGreaterThan(addedSeen, 20, "the strings exercise the added tokens")
    }

    /// tokenizer.json keeps them as non-special added tokens, and reads them back as user-defined.
    func testTokenizerJSONRoundTripKeepsThemUserDefined() throws {
        let spec = try phi2Spec(try fixture())
        let data = try TokenizerJSON.data(for: spec, file: "out.json")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let added = try XCTUnwrap(object["added_tokens"] as? [[String: Any]])
        XCTAssertEqual(added.filter { $0["special"] as? Bool == false }.count, 38)
        let read = try TokenizerJSON.parse(data, file: "out.json")
        XCTAssertEqual(read.vocabulary, spec.vocabulary)
        XCTAssertEqual(read.specialTokenIds, spec.specialTokenIds)
        XCTAssertEqual(read.tokenTypes.filter { $0 == .userDefined }.count, 38)
        XCTAssertEqual(try read.tokenizer().encode("    x\t\ty", addingSpecialTokens: false),
                       try spec.tokenizer().encode("    x\t\ty", addingSpecialTokens: false))
    }
}
