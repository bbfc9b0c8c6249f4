import Foundation
import XCTest
@testable import Shared

/// SentencePiece's tokenizer.model read field by field: a model built with the protobuf wire format by hand reads
/// back as the spec it was built from, mop's own writer's output reads back equal, what SentencePieceTokenizer cannot reproduce is refused, malformed bytes are
/// errors naming the file, and a Hugging Face directory prefers it to tokenizer.json.
final class TokenizerSentencePieceModelTests: XCTestCase {
    /// The protobuf encoding of one field.
    private static func field(_ number: Int, varint value: UInt64) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.add(number, varint: value)
        return writer.bytes
    }
    private static func field(_ number: Int, bytes: [UInt8]) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.add(number, bytes: bytes)
        return writer.bytes
    }
    private static func field(_ number: Int, float: Float) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.add(number, float: float)
        return writer.bytes
    }

    /// `spec` as a tokenizer.model: its pieces, a BPE trainer spec with `trainer` appended, an identity normalizer
    /// that keeps extra whitespace, with `normalizer` appended.
    private static func model(_ spec: TokenizerSpec, trainer: [UInt8] = [], normalizer: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, piece) in spec.vocabulary.enumerated() {
            let type = spec.tokenTypes[index]
            // NORMAL is the default type and 0 the default score: left out, as sentencepiece writes them.
            bytes += field(1, bytes: field(1, bytes: Array(piece.utf8))
                + (spec.scores[index] == 0 ? [] : field(2, float: spec.scores[index]))
                + (type == .normal ? [] : field(3, varint: UInt64(type.rawValue))))
        }
        bytes += field(2, bytes: field(3, varint: 2) + field(35, varint: 1) + trainer)
        bytes += field(3, bytes: field(1, bytes: Array("identity".utf8)) + field(4, varint: 0) + normalizer)
        return bytes
    }

    func testReadsBackTheSpecItWasBuiltFrom() throws {
        let spec = TokenizerSentencePieceTests.spec()
        XCTAssertEqual(try SentencePieceModelFile.parse(Self.model(spec), file: "tokenizer.model"), spec)
        // pad_id -1 is written as a ten-byte varint; add_dummy_prefix false turns the prefix off.
        var noPrefix = spec
        noPrefix.dummyPrefix = .none
        XCTAssertEqual(try SentencePieceModelFile.parse(
            Self.model(spec, trainer: Self.field(43, varint: UInt64(bitPattern: -1)), normalizer: Self.field(3, varint: 0)),
            file: "tokenizer.model"), noPrefix)
        var padded = spec
        padded.padTokenId = 4
        XCTAssertEqual(try SentencePieceModelFile.parse(Self.model(spec, trainer: Self.field(43, varint: 4)), file: "t"), padded)
    }

    /// What `data` writes reads back as the spec (BOS added whenever there is a BOS, as the reader decides), and is
    /// read by the hand-built model's reader path field for field: scores, every type, the dummy prefix, the ids.
    func testWritesWhatItReads() throws {
        var variants = [TokenizerSentencePieceTests.spec(), TokenizerSentencePieceTests.spec(dummyPrefix: .none)]
        var padded = variants[0]
        padded.padTokenId = 4
        var noBos = variants[0]
        noBos.bosTokenId = nil
        noBos.addBos = false
        noBos.unkTokenId = nil
        variants += [padded, noBos]
        for spec in variants {
            let bytes = try SentencePieceModelFile.data(spec, file: "out/tokenizer.model")
            XCTAssertEqual(try SentencePieceModelFile.parse(bytes, file: "out/tokenizer.model"), spec)
        }
        // Byte fallback is declared only when there are byte pieces; sentencepiece needs it to use them.
        let bytes = try SentencePieceModelFile.data(variants[0], file: "t")
        XCTAssertTrue(bytes.starts(with: Self.field(1, bytes: Self.field(1, bytes: Array("<unk>".utf8)) + Self.field(2, float: 0)
            + Self.field(3, varint: 2))))
        XCTAssertNotNil(bytes.firstRange(of: Self.field(35, varint: 1)))
    }

    func testRefusesToWriteWhatTheFileCannotHold() {
        var empty = TokenizerSentencePieceTests.spec()
        empty.vocabulary[5] = ""
        var unscored = TokenizerSentencePieceTests.spec()
        unscored.scores.removeLast()
        let cases: [(TokenizerSpec, String)] = [
            (TokenizerBPETests.spec(merges: []), "a gpt2 tokenizer is not a SentencePiece model"),
            (empty, "piece 5 is empty"),
            (unscored, "has 272 scores for 273 pieces"),
        ]
        for (spec, problem) in cases {
            XCTAssertThrowsError(try SentencePieceModelFile.data(spec, file: "out/tokenizer.model"), problem) {
                XCTAssertEqual(($0 as? MopError)?.file, "out/tokenizer.model")
                XCTAssertTrue("\($0)".contains(problem), "\($0) does not say \(problem)")
            }
        }
    }

    func testRefusesWhatTheTokenizerDoesNotReproduce() {
        let spec = TokenizerSentencePieceTests.spec()
        let cases: [([UInt8], String)] = [
            (Self.model(spec, trainer: Self.field(3, varint: 1)), "model type UNIGRAM"),
            (Self.model(spec, trainer: Self.field(25, varint: 1)), "split_digits"),
            (Self.model(spec, trainer: Self.field(24, varint: 1)), "treat_whitespace_as_suffix"),
            (Self.model(spec, normalizer: Self.field(4, varint: 1)), "remove_extra_whitespaces"),
            (Self.model(spec, normalizer: Self.field(1, bytes: Array("nmt_nfkc".utf8))), "normalizer \"nmt_nfkc\""),
            (Self.model(spec, trainer: Self.field(41, varint: 9999)), "bos_id 9999 is outside the vocabulary"),
            (Self.field(1, bytes: Self.field(1, bytes: Array("a".utf8)) + Self.field(3, varint: 9)), "unknown type 9"),
            (Self.field(1, bytes: Self.field(2, float: 1)), "piece 0 has no text"),
            ([], "holds no pieces"),
            (Array(Self.model(spec).dropLast(3)), "beyond the end of its message"),
            ([0x08] + [UInt8](repeating: 0xFF, count: 11), "longer than ten bytes"),
            ([0x0B], "wire type 3"),
            (Self.field(1, varint: 5), "not a message"),
        ]
        for (bytes, problem) in cases {
            XCTAssertThrowsError(try SentencePieceModelFile.parse(bytes, file: "dir/tokenizer.model"), problem) {
                XCTAssertEqual(($0 as? MopError)?.file, "dir/tokenizer.model")
                XCTAssertTrue("\($0)".contains(problem), "\($0) does not say \(problem)")
            }
        }
    }

    func testDirectoryPrefersTokenizerModelToTokenizerJSON() throws {
        let directory = NSTemporaryDirectory() + "mop-spm-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try TokenizerJSON.write(TokenizerBPETests.spec(merges: []), to: directory + "/tokenizer.json")
        XCTAssertEqual(try HFModelDirectory.readTokenizer(in: directory)?.model, .bytePairs)
        let spec = TokenizerSentencePieceTests.spec()
        try Data(Self.model(spec)).write(to: URL(fileURLWithPath: directory + "/" + SentencePieceModelFile.fileName))
        let read = try XCTUnwrap(HFModelDirectory.readTokenizer(in: directory))
        XCTAssertEqual(read, spec)
        try Data(#"{"add_bos_token": false, "eos_token": "</s>"}"#.utf8).write(to: URL(fileURLWithPath: directory + "/tokenizer_config.json"))
        XCTAssertEqual(try HFModelDirectory.readTokenizer(in: directory)?.addBos, false, "tokenizer_config.json decides")
    }
}
