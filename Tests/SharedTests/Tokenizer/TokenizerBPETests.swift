import XCTest
@testable import Shared

/// BPE on tiny hand-made vocabularies: ids 0..<256 are the single bytes (id == byte value), then the extras below.
final class TokenizerBPETests: XCTestCase {
    static let extras = ["ab", "bc", "abc", "aa", "aaa", "Ġb", "Ã©", "<s>", "<s>x"]
    // Ids of the extras, in order.
    let ab: Int32 = 256, bc: Int32 = 257, abc: Int32 = 258, aa: Int32 = 259, aaa: Int32 = 260
    let spaceB: Int32 = 261, eAcute: Int32 = 262, s: Int32 = 263, sx: Int32 = 264

    static func spec(merges: [String], specials: [Int32] = [], bos: Int32? = nil, addBos: Bool = false,
                     kind: PreTokenizerKind = .gpt2) -> TokenizerSpec {
        TokenizerSpec(vocabulary: ByteLevel.scalarForByte.map { String($0) } + extras, merges: merges,
                      preTokenizer: kind, specialTokenIds: specials, bosTokenId: bos, eosTokenId: nil, addBos: addBos)
    }

    private func tokenizer(_ merges: [String], specials: [Int32] = [], bos: Int32? = nil,
                           addBos: Bool = false) throws -> BPETokenizer {
        try BPETokenizer(Self.spec(merges: merges, specials: specials, bos: bos, addBos: addBos), file: "tiny.json")
    }

    func testQwen2NormalizesToNFCBetweenSpecialTokensOnly() throws {
        // "e" + U+0301 composes to U+00E9 under NFC: two bytes (C3 A9) instead of three (65 CC 81).
        let decomposed = "caf" + "e\u{301}"
        let qwen2 = try BPETokenizer(Self.spec(merges: [], kind: .qwen2), file: "tiny.json")
        let gpt2 = try BPETokenizer(Self.spec(merges: [], kind: .gpt2), file: "tiny.json")
        let bytes = { (text: String) in text.utf8.map { try! XCTUnwrap(qwen2.id(of: String(ByteLevel.scalarForByte[Int($0)]))) } }
        XCTAssertEqual(qwen2.encode(decomposed), bytes("caf\u{E9}"))
        XCTAssertEqual(gpt2.encode(decomposed), bytes(decomposed))
        XCTAssertEqual(qwen2.decode(qwen2.encode(decomposed)), "caf\u{E9}")
    }

    func testByteLevelTable() {
        let table = ByteLevel.scalarForByte
        XCTAssertEqual(Set(table).count, 256)
        XCTAssertEqual(table[0x21], "!")
        XCTAssertEqual(table[0xE9], "é")
        // Non-printable bytes take U+0100 onwards in byte order: 0x00-0x20 -> U+0100-0120, 0x7F -> U+0121,
        // 0x80-0xA0 -> U+0122-0142, 0xAD -> U+0143.
        XCTAssertEqual(table[0x0A], "\u{010A}")
        XCTAssertEqual(table[0x20], "Ġ")
        XCTAssertEqual(table[0x7F], "\u{0121}")
        XCTAssertEqual(table[0xA0], "\u{0142}")
        XCTAssertEqual(table[0xAD], "\u{0143}")
        let all = (0...255).map { UInt8($0) }
        XCTAssertEqual(ByteLevel.decode(ByteLevel.encode(all)), all)
        XCTAssertEqual(ByteLevel.encode(Array("é\n".utf8)), "Ã©Ċ")
        XCTAssertNil(ByteLevel.decode("a€"))
    }

    func testLowestRankMergesFirst() throws {
        XCTAssertEqual(try tokenizer(["a b", "b c", "ab c"]).encode("abc"), [abc])
        // With "b c" ranked first, "a" + "bc" has no merge: the result differs from left-to-right greedy merging.
        XCTAssertEqual(try tokenizer(["b c", "a b", "ab c"]).encode("abc"), [97, bc])
        XCTAssertEqual(try tokenizer([]).encode("abc"), [97, 98, 99])
    }

    func testEqualRanksMergeLeftmostFirst() throws {
        XCTAssertEqual(try tokenizer(["a a"]).encode("aaa"), [aa, 97])
        let two = try tokenizer(["a a", "aa a"])
        // aaa: a a a -> aa a -> aaa.
        XCTAssertEqual(two.encode("aaa"), [aaa])
        // aaaa: a a a a -> aa a a -> aa aa (rank 0 beats "aa a"), and "aa aa" is no merge.
        XCTAssertEqual(two.encode("aaaa"), [aa, aa])
        // aaaaa: a a a a a -> aa a a a -> aa aa a (leftmost rank-0 pair) -> aa aaa.
        XCTAssertEqual(two.encode("aaaaa"), [aa, aaa])
    }

    func testIgnoreMergesTakesAWholePieceFromTheVocabulary() throws {
        // "abc" is in the vocabulary, but the merges alone reach only "ab" + "c": LLaMA-3 (ignore_merges) takes the
        // piece whole, the others merge.
        let merges = ["a b"]
        let llama3 = try BPETokenizer(Self.spec(merges: merges, kind: .llama3), file: "tiny.json")
        let gpt2 = try BPETokenizer(Self.spec(merges: merges, kind: .gpt2), file: "tiny.json")
        XCTAssertEqual(llama3.encode("abc abd"), [abc, 32, ab, 100])
        XCTAssertEqual(gpt2.encode("abc abd"), [ab, 99, 32, ab, 100])
    }

    func testEOSIsAppendedOnlyWhenAskedAndOnlyWithSpecialTokens() throws {
        var spec = Self.spec(merges: [], bos: s, addBos: true)
        spec.eosTokenId = sx
        spec.addEos = true
        let tokenizer = try BPETokenizer(spec, file: "tiny.json")
        XCTAssertEqual(tokenizer.encode("a"), [s, 97, sx])
        XCTAssertEqual(tokenizer.encode("a", addingSpecialTokens: false), [97])
        spec.eosTokenId = nil
        XCTAssertThrowsError(try BPETokenizer(spec, file: "tiny.json")) { XCTAssertTrue("\($0)".contains("no EOS token id")) }
    }

    func testPiecesAreMergedSeparately() throws {
        let tokenizer = try tokenizer(["Ġ b", "a b"])
        XCTAssertEqual(tokenizer.encode("a b"), [97, spaceB])
        XCTAssertEqual(tokenizer.encode("a  b"), [97, 32, spaceB])
        XCTAssertEqual(tokenizer.encode("ab"), [ab])
        XCTAssertEqual(tokenizer.encode("a\nb"), [97, 10, 98])
    }

    func testMultiByteCharactersMergeFromTheirBytes() throws {
        XCTAssertEqual(try tokenizer(["Ã ©"]).encode("é"), [eAcute])
        XCTAssertEqual(try tokenizer([]).encode("é"), [0xC3, 0xA9])
        XCTAssertEqual(try tokenizer([]).encode("😀"), [0xF0, 0x9F, 0x98, 0x80])
    }

    func testSpecialTokensMatchWholeAndLongestFirst() throws {
        let tokenizer = try tokenizer(["a b", "b c"], specials: [s, sx])
        XCTAssertEqual(tokenizer.encode("a<s>x<s>b"), [97, sx, s, 98])
        XCTAssertEqual(tokenizer.encode("<s"), [60, 115])
        // Text on either side of a special token is pre-tokenized on its own: no merge reaches across it.
        XCTAssertEqual(tokenizer.encode("ab<s>bc"), [ab, s, bc])
        XCTAssertEqual(tokenizer.decode([97, sx, s, 98]), "a<s>x<s>b")
        // A special token decodes through the byte alphabet like any other (HF 0.23.3 does the same).
        let spelled = try self.tokenizer([], specials: [eAcute])
        XCTAssertEqual(spelled.encode("xÃ©"), [120, eAcute])
        XCTAssertEqual(spelled.decode([eAcute]), "é")
    }

    func testBosIsPrependedOnlyWhenAsked() throws {
        XCTAssertEqual(try tokenizer([], bos: s, addBos: true).encode("a"), [s, 97])
        XCTAssertEqual(try tokenizer([], bos: s, addBos: true).encode(""), [s])
        XCTAssertEqual(try tokenizer([], bos: s).encode("a"), [97])
        XCTAssertEqual(try tokenizer([], bos: s).bosTokenId, s)
    }

    func testDecodeReplacesInvalidUTF8AsHuggingFaceDoes() throws {
        // Each maximal invalid subsequence becomes one U+FFFD (Rust's from_utf8_lossy); checked against HF 0.23.3.
        let tokenizer = try tokenizer([])
        let cases: [([Int32], String)] = [
            ([0xE2, 0x82, 0x61], "\u{FFFD}a"),
            ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0xF0, 0x9F, 0x98], "\u{FFFD}"),
            ([0xF0, 0x9F, 0x98, 0x80, 0x80], "😀\u{FFFD}"),
            ([0xE0, 0x80], "\u{FFFD}\u{FFFD}"),
            ([0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0x61, 0xF0, 0x9F, 0xE2, 0x82, 0xAC], "a\u{FFFD}€"),
        ]
        for (ids, expected) in cases { XCTAssertEqual(tokenizer.decode(ids), expected, "\(ids)") }
        XCTAssertEqual(tokenizer.decode([97, 9999, -1, 98]), "ab", "ids outside the vocabulary are skipped")
    }

    func testInvalidSpecsThrowErrorsNamingTheFile() {
        let cases: [(TokenizerSpec, String)] = [
            (Self.spec(merges: ["ab"]), "not two tokens"),
            (Self.spec(merges: ["a  b"]), "not two tokens"),
            (Self.spec(merges: ["a z"]), "missing from the vocabulary"),
            (Self.spec(merges: ["a Q"]), "missing from the vocabulary"),
            (Self.spec(merges: [], specials: [999]), "outside the vocabulary"),
            (Self.spec(merges: [], bos: -1), "outside the vocabulary"),
            (Self.spec(merges: [], addBos: true), "no BOS"),
            (TokenizerSpec(vocabulary: [], merges: [], preTokenizer: .gpt2, specialTokenIds: [], bosTokenId: nil,
                           eosTokenId: nil, addBos: false), "0 tokens"),
        ]
        for (spec, problem) in cases {
            XCTAssertThrowsError(try BPETokenizer(spec, file: "tiny.json")) { error in
                let text = String(describing: error)
                XCTAssertTrue(error is MopError && text.hasPrefix("tiny.json: ") && text.contains(problem), text)
            }
        }
    }
}
