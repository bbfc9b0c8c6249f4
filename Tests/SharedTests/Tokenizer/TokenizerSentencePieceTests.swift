import XCTest
@testable import Shared

/// SentencePiece encoding and decoding on a hand-made vocabulary whose ids are worked out by hand from llama.cpp's
/// rules (llm_tokenizer_spm_session, token_to_piece); the real vocabularies are checked by TokenizerSuiteTests.
final class TokenizerSentencePieceTests: XCTestCase {
    /// `<unk>`, `<s>`, `</s>`, a user-defined `<tag>`, an unused id, the 256 byte tokens, then scored pieces.
    static func spec(dummyPrefix: DummyPrefix = .always, addEos: Bool = false) -> TokenizerSpec {
        let pieces: [(String, Float)] = [
            ("▁", -10), ("h", -10), ("e", -10), ("l", -10), ("o", -10), ("a", -10),
            // "el" outscores "ll" and "he": "▁hello" merges el first, then he and ll are stale; lo last.
            ("he", -3), ("el", -1), ("ll", -2), ("lo", -5), ("aa", -4), ("▁h", -6),
        ]
        let head: [(String, TokenType)] = [("<unk>", .unknown), ("<s>", .control), ("</s>", .control),
                                           ("<tag>", .userDefined), ("<unused0>", .unused)]
        let bytes = (0..<256).map { (SentencePieceTokenizer.byteName(UInt8($0)), TokenType.byte) }
        let vocabulary = head.map(\.0) + bytes.map(\.0) + pieces.map(\.0)
        let types = head.map(\.1) + bytes.map(\.1) + pieces.map { _ in TokenType.normal }
        let scores = Array(repeating: Float(0), count: head.count + bytes.count) + pieces.map(\.1)
        return TokenizerSpec(model: .sentencePiece, vocabulary: vocabulary, merges: [], preTokenizer: .gpt2,
                             specialTokenIds: [0, 1, 2, 3], scores: scores, tokenTypes: types, bosTokenId: 1,
                             eosTokenId: 2, addBos: true, addEos: addEos, dummyPrefix: dummyPrefix, unkTokenId: 0)
    }

    private func ids(_ tokenizer: SentencePieceTokenizer, _ pieces: [String]) throws -> [Int32] {
        try pieces.map { try XCTUnwrap(tokenizer.id(of: $0), $0) }
    }

    func testMergesTheHighestScoringPieceFirst() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        // ▁ h e l l o: el (-1) first; then he and ll no longer add up and lo (-5) merges; ▁h (-6) last.
        XCTAssertEqual(tokenizer.encode("hello", addingSpecialTokens: false), try ids(tokenizer, ["▁h", "el", "lo"]))
        // Equal scores merge leftmost first.
        XCTAssertEqual(tokenizer.encode("aaa", addingSpecialTokens: false), try ids(tokenizer, ["▁", "aa", "a"]))
    }

    /// Words merge alone (a fast path) only when no piece could join a word to the next one's space: a piece "o▁"
    /// makes the tokenizer merge across words, as llama.cpp does.
    func testMergesAcrossWordsWhenAPieceSpansASpace() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        XCTAssertEqual(tokenizer.encode("ho  hello", addingSpecialTokens: false),
                       try ids(tokenizer, ["▁h", "o", "▁", "▁h", "el", "lo"]))
        var spec = Self.spec()
        spec.vocabulary.append("o▁")
        spec.scores.append(0)
        spec.tokenTypes.append(.normal)
        let spanning = try SentencePieceTokenizer(spec)
        XCTAssertEqual(spanning.encode("ho  hello", addingSpecialTokens: false),
                       try ids(spanning, ["▁h", "o▁", "▁h", "el", "lo"]))
    }

    func testDummyPrefixAtTheStartAndAfterEachSpecialToken() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        XCTAssertEqual(tokenizer.encode("h<tag>h h</s>", addingSpecialTokens: true),
                       try [1] + ids(tokenizer, ["▁h", "<tag>", "▁h", "▁h", "</s>"]))
        let noPrefix = try SentencePieceTokenizer(Self.spec(dummyPrefix: .none))
        XCTAssertEqual(noPrefix.encode("h h", addingSpecialTokens: false), try ids(noPrefix, ["h", "▁h"]))
        XCTAssertEqual(tokenizer.encode("", addingSpecialTokens: false), [])
        XCTAssertEqual(tokenizer.encode(""), [1], "BOS alone, as sentencepiece encodes an empty text")
    }

    func testByteFallbackForCharactersWithoutAPiece() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        // é is C3 A9; byte token n has id 5 + n.
        XCTAssertEqual(tokenizer.encode("é", addingSpecialTokens: false), [try XCTUnwrap(tokenizer.id(of: "▁")), 5 + 0xC3, 5 + 0xA9])
    }

    func testEOSWhenTheSpecAsks() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec(addEos: true))
        XCTAssertEqual(tokenizer.encode("h"), try [1] + ids(tokenizer, ["▁h"]) + [2])
        XCTAssertTrue(tokenizer.addsEos)
    }

    func testDecodeFollowsLlamaCppsTokenToPiece() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        let text = "hello é aaa"
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(text, addingSpecialTokens: false)), text)
        // The dummy prefix after a special token stays in the text, as llama.cpp decodes it.
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("hello<tag>aa", addingSpecialTokens: false)), "hello<tag> aa")
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(" hello", addingSpecialTokens: false)), " hello",
                       "only the dummy prefix's space is taken off")
        // The leading space comes off the first id only: after BOS it stays, as llama.cpp decodes.
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("hello")), "<s> hello")
        XCTAssertEqual(tokenizer.decode([4, -1, 10_000] + (try ids(tokenizer, ["h"]))), "h", "unused and unknown ids give nothing")
        XCTAssertEqual(tokenizer.decode([5 + 0xC3]), "\u{FFFD}", "a lone byte of a character")
        let noPrefix = try SentencePieceTokenizer(Self.spec(dummyPrefix: .none))
        XCTAssertEqual(noPrefix.decode(try ids(noPrefix, ["▁h"])), " h")
    }

    func testSpecBuildsTheTokenizerOfItsModel() throws {
        XCTAssertTrue(try Self.spec().tokenizer() is SentencePieceTokenizer)
        var bpe = Self.spec()
        bpe.model = .bytePairs
        XCTAssertTrue(try bpe.tokenizer() is BPETokenizer)
        XCTAssertEqual(TokenizerModel(ggufName: "llama"), .sentencePiece)
        XCTAssertEqual(TokenizerModel(ggufName: "gpt2"), .bytePairs)
        XCTAssertNil(TokenizerModel(ggufName: "bert"))
        XCTAssertEqual(TokenType.allCases.filter(\.isMatchedWhole), [.unknown, .control, .userDefined])
    }

    func testMalformedSpecsAreErrorsNamingTheFile() {
        var noScores = Self.spec()
        noScores.scores.removeLast()
        var noTypes = Self.spec()
        noTypes.tokenTypes = []
        var badByte = Self.spec()
        badByte.vocabulary[5] = "<0xZZ>"
        var badId = Self.spec()
        badId.eosTokenId = 9999
        var noEos = Self.spec(addEos: true)
        noEos.eosTokenId = nil
        for (spec, problem) in [(noScores, "scores for"), (noTypes, "0 token types"), (badByte, "<0xXX>"),
                                (badId, "outside the vocabulary"), (noEos, "no EOS token id")] {
            XCTAssertThrowsError(try SentencePieceTokenizer(spec, file: "t.gguf")) {
                XCTAssertEqual(($0 as? MopError)?.file, "t.gguf")
                XCTAssertTrue("\($0)".contains(problem), "\($0)")
            }
        }
    }
}
