import XCTest
@testable import Shared

/// Gemma's SentencePiece variant (Gemma 1-3 GGUFs, `tokenizer.ggml.model = llama`) on a hand-made vocabulary shaped
/// like Gemma-3's: no dummy prefix (`add_space_prefix` false in the file), user-defined tokens for runs of newlines,
/// spaces and tabs and for HTML tags, BOS 2 / EOS 1, single-digit pieces only. Nothing in the code is Gemma's: the
/// expected ids follow llama.cpp's SPM rules from those file values alone (user-defined tokens split out first, the
/// longest first; score-ranked merges; byte fallback). The real Gemma-3-270m file is checked against llama.cpp by
/// scripts/check-tokenizer-llamacpp.sh on whole texts, and here on strings whose ids llama.cpp gave.
final class TokenizerGemmaTests: XCTestCase {
    static let userDefined = ["\n", "\n\n", "  ", "   ", "\t", "<td>", "</td>"]

    static func spec() -> TokenizerSpec {
        let head: [(String, TokenType)] = [("<pad>", .control), ("<eos>", .control), ("<bos>", .control),
                                           ("<unk>", .unknown)] + userDefined.map { ($0, .userDefined) }
        let bytes = (0..<256).map { (SentencePieceTokenizer.byteName(UInt8($0)), TokenType.byte) }
        let pieces: [(String, Float)] = [
            ("▁", -10), ("a", -10), ("b", -10), ("c", -10), ("1", -10), ("2", -10), ("<", -10), (">", -10),
            ("t", -10),
            // "ab" outscores "▁a": " ab" is ▁ + ab, never ▁a + b.
            ("ab", -1), ("▁a", -3), ("▁b", -4),
        ]
        let vocabulary = head.map(\.0) + bytes.map(\.0) + pieces.map(\.0)
        let types = head.map(\.1) + bytes.map(\.1) + pieces.map { _ in TokenType.normal }
        let scores = Array(repeating: Float(0), count: head.count + bytes.count) + pieces.map(\.1)
        return TokenizerSpec(model: .sentencePiece, vocabulary: vocabulary, merges: [], preTokenizer: .gpt2,
                             specialTokenIds: types.indices.filter { types[$0].isMatchedWhole }.map { Int32($0) },
                             scores: scores, tokenTypes: types, bosTokenId: 2, eosTokenId: 1, addBos: true,
                             addEos: false, unkTokenId: 3)
    }

    private func ids(_ tokenizer: SentencePieceTokenizer, _ pieces: [String]) throws -> [Int32] {
        try pieces.map { try XCTUnwrap(tokenizer.id(of: $0), $0.debugDescription) }
    }

    func testNoDummyPrefixAndBOSTwo() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        XCTAssertEqual(tokenizer.encode("ab"), [2] + (try ids(tokenizer, ["ab"])))
        XCTAssertEqual(tokenizer.encode(" ab", addingSpecialTokens: false), try ids(tokenizer, ["▁", "ab"]))
        XCTAssertEqual(tokenizer.encode("a b", addingSpecialTokens: false), try ids(tokenizer, ["a", "▁b"]))
    }

    func testWhitespaceRunsAndTagsAreMatchedWholeLongestFirst() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        XCTAssertEqual(tokenizer.encode("a\n\n\nb", addingSpecialTokens: false), try ids(tokenizer, ["a", "\n\n", "\n", "b"]))
        // Four spaces: the three-space token, then one space that starts the next stretch (no prefix added to it).
        XCTAssertEqual(tokenizer.encode("a    b", addingSpecialTokens: false), try ids(tokenizer, ["a", "   ", "▁b"]))
        XCTAssertEqual(tokenizer.encode("\tc", addingSpecialTokens: false), try ids(tokenizer, ["\t", "c"]))
        // The tag is one token, not < td >; a tag missing from the user-defined tokens merges as text.
        XCTAssertEqual(tokenizer.encode("<td>1</td>", addingSpecialTokens: false), try ids(tokenizer, ["<td>", "1", "</td>"]))
        XCTAssertEqual(tokenizer.encode("<t>", addingSpecialTokens: false), try ids(tokenizer, ["<", "t", ">"]))
    }

    func testDigitsStayApartWithoutMultiDigitPieces() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        XCTAssertEqual(tokenizer.encode("12", addingSpecialTokens: false), try ids(tokenizer, ["1", "2"]))
    }

    func testDecodeGivesTheTextBackByteForByte() throws {
        let tokenizer = try SentencePieceTokenizer(Self.spec())
        // Without the dummy prefix, no leading space is taken off when decoding.
        for text in [" ab\n\n c", "a    b\t\t", "<td>é</td>\n"] {
            let decoded = tokenizer.decode(tokenizer.encode(text, addingSpecialTokens: false))
            XCTAssertEqual(Array(decoded.utf8), Array(text.utf8), text.debugDescription)
        }
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(" a")), "<bos> a")
    }

    /// The real file's values, and ids scripts/llamacpp/tokenize.cpp printed for these strings (BOS added).
    func testRealGemma3FileGivesLlamaCppsIds() throws {
        let path = try RealInputs.gemma3Path()
        let spec = try XCTUnwrap(GGUFTokenizer.read(from: GGUFFile(path: path)))
        XCTAssertEqual(spec.model, .sentencePiece)
        XCTAssertEqual(spec.dummyPrefix, .none)
        XCTAssertEqual([spec.bosTokenId, spec.eosTokenId], [2, 1])
        XCTAssertEqual(spec.tokenTypes.filter { $0 == .userDefined }.count, 165)
        let tokenizer = try spec.tokenizer(file: path)
        let cases: [(String, [Int32])] = [
            ("Hello world\n\n  <td>12</td> é", [2, 9259, 1902, 108, 138, 175, 236770, 236778, 183, 1559]),
            ("   3.14159 🦙\n", [2, 139, 236800, 236761, 236770, 236812, 236770, 236810, 236819, 236743, 478, 397, 404, 391, 107]),
        ]
        for (text, ids) in cases {
            XCTAssertEqual(tokenizer.encode(text), ids, text.debugDescription)
            XCTAssertEqual(Array(tokenizer.decode(Array(ids.dropFirst())).utf8), Array(text.utf8))
        }
    }
}
