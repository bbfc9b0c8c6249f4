import Foundation
import XCTest
@testable import Shared

/// The GPT-2 regex scanner and SmolLM2's digit splitting on hand-picked strings, pieces worked out from the regex;
/// Qwen2's scanner and NFC against Hugging Face `tokenizers` (Fixtures/pretokenizer-qwen2.json).
final class TokenizerPreTokenizerTests: XCTestCase {
    private let gpt2 = PreTokenizer(.gpt2)
    private let smollm = PreTokenizer(.smollm)
    private let qwen2 = PreTokenizer(.qwen2)

    func testQwen2PiecesAndNFCEqualHuggingFaceTokenizers() throws {
        let url = RealInputs.fixture("pretokenizer-qwen2.json")
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(fixture["pattern"] as? String, TokenizerJSON.llama3Pattern(maxDigits: 1), "the fixture was made for this regex")
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 40)
        var pieces = 0
        for entry in cases {
            let text = try XCTUnwrap(entry["text"] as? String), nfc = try XCTUnwrap(entry["nfc"] as? String)
            let expected = try XCTUnwrap(entry["pieces"] as? [String])
            // Compared as scalars: Swift's String equality is canonical equivalence, which would hide an NFC bug.
            XCTAssertEqual(Array(text.precomposedStringWithCanonicalMapping.unicodeScalars), Array(nfc.unicodeScalars),
                           text.debugDescription)
            let got = qwen2.pieces(nfc)
            XCTAssertEqual(got.map { Array($0.unicodeScalars) }, expected.map { Array($0.unicodeScalars) },
                           text.prefix(80).debugDescription)
            pieces += expected.count
        }
        XCTAssertGreaterThan(pieces, 4000, "the WikiText-2 excerpt is in the fixture")
    }

    func testGGUFNamesOfEveryKind() {
        for kind in PreTokenizerKind.all {
            XCTAssertEqual(PreTokenizerKind(ggufName: kind.ggufName), kind)
            XCTAssertEqual(PreTokenizerKind.named(kind.name), kind)
        }
        XCTAssertEqual(PreTokenizerKind(ggufName: "gpt2"), .gpt2)
        XCTAssertEqual(PreTokenizerKind(ggufName: "default"), .gpt2)
        XCTAssertEqual(PreTokenizerKind(ggufName: "phi-2"), .gpt2)
        XCTAssertEqual(PreTokenizerKind(ggufName: "starcoder"), .smollm)
        XCTAssertEqual(PreTokenizerKind(ggufName: "llama-bpe"), .llama3)
        XCTAssertEqual(PreTokenizerKind(ggufName: "deepseek-llm"), .deepSeekLLM)
        XCTAssertNil(PreTokenizerKind(ggufName: "qwen35"), "its letter classes (with marks) are not implemented")
        XCTAssertEqual(PreTokenizerKind.all.filter(\.normalizesToNFC), [.qwen2])
        XCTAssertEqual(PreTokenizerKind.all.filter(\.ignoresMerges), [.llama3])
        XCTAssertEqual(Set(PreTokenizerKind.all.flatMap(\.ggufNames)).count, PreTokenizerKind.all.flatMap(\.ggufNames).count,
                       "a GGUF name belongs to one row")
    }

    /// The successive regexes of DeepSeek and Falcon give the pieces Hugging Face `tokenizers` gives for a Sequence of
    /// Split(Regex, Isolated) with llama.cpp's regexes (pre_tokenize_str, tokenizers 0.23.3).
    func testSuccessiveSplitsAreThePiecesTokenizersGives() {
        let strings = ["Hello  world!!\n\n  ok  ", "x = 12345 + 3.14;\t\t", "αβγ ΐ 你好世界 한국어",
                       "it's 'S  —“q”", "  \u{3000}end\u{3000}"]
        let expected: [(PreTokenizerKind, [[String]])] = [
            (.deepSeekLLM, [["Hello", " ", " world", "!!", "\n", "\n", " ", " ok", "  "],
                           ["x", " =", " ", "12345", " +", " ", "3", ".", "14", ";", "\t\t"],
                           ["αβγ", " ΐ", " ", "你好世界", " ", "한국어"],
                           ["it", "'", "s", " '", "S", "  ", "—", "“", "q", "”"],
                           ["  ", "\u{3000}", "end", "\u{3000}"]]),
            (.deepSeekCoder, [["Hello", " ", " world", "!!", "\n", "\n", " ", " ok", "  "],
                             ["x", " = ", "1", "2", "3", "4", "5", " + ", "3", ".", "1", "4", ";", "\t\t"],
                             ["αβγ", " ΐ", " ", "你好世界", " ", "한국어"],
                             ["it", "'", "s", " '", "S", " ", " ", "—“", "q", "”"],
                             ["  ", "\u{3000}", "end", "\u{3000}"]]),
            (.falcon, [["Hello", " ", " world", "!!", "\n\n ", " ok", "  "],
                      ["x", " ", "=", " ", "123", "45", " ", "+", " 3", ".", "14", ";", "\t\t"],
                      ["αβγ", " ΐ", " 你好世界", " 한국어"],
                      ["it", "'", "s", " ", "'", "S", "  ", "—“", "q", "”"],
                      ["  ", "\u{3000}", "end", "\u{3000}"]]),
        ]
        for (kind, pieces) in expected {
            for (text, want) in zip(strings, pieces) {
                XCTAssertEqual(PreTokenizer(kind).pieces(text).map { Array($0.unicodeScalars) },
                               want.map { Array($0.unicodeScalars) }, "\(kind.name): \(text.debugDescription)")
            }
        }
    }

    func testLlama3SplitsNumbersInRunsOfThree() {
        let llama3 = PreTokenizer(.llama3)
        XCTAssertEqual(llama3.pieces("1234567 x12"), ["123", "456", "7", " x", "12"])
        XCTAssertEqual(qwen2.pieces("1234"), ["1", "2", "3", "4"])
        XCTAssertEqual(llama3.pieces("(hello) WE'LL"), ["(hello", ")", " WE", "'LL"])
    }

    func testQwen2IsolatesDigitsAndGluesPunctuationToWords() {
        XCTAssertEqual(qwen2.pieces("(hello) 42nd WE'LL"), ["(hello", ")", " ", "4", "2", "nd", " WE", "'LL"])
        XCTAssertEqual(qwen2.pieces("end.\n\nNext"), ["end", ".\n\n", "Next"])
    }

    func testWordsSpacesContractionsAndNumbers() {
        XCTAssertEqual(gpt2.pieces("Hello  world's 123!!"), ["Hello", " ", " world", "'s", " 123", "!!"])
        XCTAssertEqual(smollm.pieces("Hello  world's 123!!"), ["Hello", " ", " world", "'s", " ", "1", "2", "3", "!!"])
        XCTAssertEqual(gpt2.pieces(""), [])
        XCTAssertEqual(smollm.pieces(""), [])
    }

    func testWhitespaceRunsKeepTheirLastCharacterForTheNextWord() {
        // A run followed by a non-space gives all but its last character; at the end it is kept whole.
        XCTAssertEqual(gpt2.pieces("a   b\n\n\n c\t\td  "), ["a", "  ", " b", "\n\n\n", " c", "\t", "\t", "d", "  "])
        XCTAssertEqual(gpt2.pieces("   leading"), ["  ", " leading"])
        XCTAssertEqual(gpt2.pieces("trailing   "), ["trailing", "   "])
        // Only U+0020 joins the next word; a lone tab or newline stands alone.
        XCTAssertEqual(gpt2.pieces("\tx\ny"), ["\t", "x", "\n", "y"])
        XCTAssertEqual(gpt2.pieces(" "), [" "])
        XCTAssertEqual(gpt2.pieces(" \n"), [" \n"])
        // No-break and ideographic spaces are \s but not U+0020.
        XCTAssertEqual(gpt2.pieces("a\u{00A0}b\u{3000}\u{3000}c"), ["a", "\u{00A0}", "b", "\u{3000}", "\u{3000}", "c"])
    }

    func testContractionsAreCaseSensitive() {
        XCTAssertEqual(gpt2.pieces("I'm don't WE'LL they're we've she'd you'll"),
                       ["I", "'m", " don", "'t", " WE", "'", "LL", " they", "'re",
                        " we", "'ve", " she", "'d", " you", "'ll"])
        XCTAssertEqual(gpt2.pieces("'s's ''s 'x 'l"), ["'s", "'s", " ''", "s", " '", "x", " '", "l"])
        XCTAssertEqual(gpt2.pieces("!!'s"), ["!!'", "s"])
    }

    func testUnicodeClasses() {
        XCTAssertEqual(gpt2.pieces("naïve café"), ["naïve", " café"])
        XCTAssertEqual(gpt2.pieces("你好，世界"), ["你好", "，", "世界"])
        // A combining mark is neither \p{L} nor \p{N}.
        XCTAssertEqual(gpt2.pieces("e\u{301}x"), ["e", "\u{301}", "x"])
        XCTAssertEqual(gpt2.pieces("flag 🇺🇸!"), ["flag", " 🇺🇸!"])
        // Letter numbers (Ⅳ) and other numbers (½, ²) are \p{N}: whole runs for gpt2, one by one for smollm.
        XCTAssertEqual(gpt2.pieces("x\u{2163}½² y"), ["x", "\u{2163}½²", " y"])
        XCTAssertEqual(smollm.pieces("x\u{2163}½² y"), ["x", "\u{2163}", "½", "²", " y"])
        XCTAssertEqual(smollm.pieces("a 12"), ["a", " ", "1", "2"])
        XCTAssertEqual(smollm.pieces("3.14"), ["3", ".", "1", "4"])
    }

    func testPiecesConcatenateToTheInput() {
        let texts = ["  mixed\t\tcontent 123 'll\n\n  ∑ 😀 ok  ", "x y  z   ", "\r\n\r\n", "a1b2 c3"]
        for text in texts {
            XCTAssertEqual(gpt2.pieces(text).joined(), text)
            XCTAssertEqual(smollm.pieces(text).joined(), text)
            XCTAssertFalse(gpt2.pieces(text).contains(""))
        }
    }
}
