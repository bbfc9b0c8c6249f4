import Foundation
import XCTest
@testable import Shared

/// The `llama` (SentencePiece) tokenizer kind in GGUF metadata: written and read back equal, llama.cpp's defaults for
/// absent keys, and malformed scores and types refused with the file named.
final class GGUFSentencePieceTests: XCTestCase {
    private var directory: GGUFTemporaryDirectory!

    override func setUpWithError() throws { directory = try GGUFTemporaryDirectory() }
    override func tearDown() { directory.remove() }

    private func file(_ metadata: [(String, GGUFValue)], _ name: String) throws -> GGUFFile {
        let path = directory.file(name)
        try Data(GGUFHandBuilt.header(metadata: metadata)).write(to: URL(fileURLWithPath: path))
        return try GGUFFile(path: path)
    }

    func testMetadataRoundTripKeepsScoresTypesAndFlags() throws {
        var spec = TokenizerSentencePieceTests.spec(dummyPrefix: .none, addEos: true)
        spec.scores[0] = -.infinity
        spec.chatTemplate = "{{ messages }}"
        let metadata = try GGUFTokenizer.metadata(for: spec, file: "out.gguf")
        XCTAssertEqual(metadata.first { $0.key == "tokenizer.ggml.model" }?.value, .string("llama"))
        XCTAssertNil(metadata.first { $0.key == "tokenizer.ggml.merges" }, "SentencePiece needs no merge list")
        let read = try XCTUnwrap(GGUFTokenizer.read(from: file(metadata, "spm.gguf")))
        XCTAssertEqual(read, spec)
        XCTAssertEqual(try read.tokenizer().encode("hello"), try spec.tokenizer().encode("hello"))
    }

    func testAVocabularyShorterThanTheEmbeddingIsPaddedAsLlamaCppsConverterPadsIt() throws {
        let spec = TokenizerSentencePieceTests.spec()
        let count = spec.vocabulary.count
        let padded = spec.padded(toCount: count + 3)
        XCTAssertEqual(Array(padded.vocabulary.suffix(3)), ["[PAD1]", "[PAD2]", "[PAD3]"])
        XCTAssertEqual(Array(padded.scores.suffix(3)), [-1000, -1000, -1000])
        XCTAssertEqual(Array(padded.tokenTypes.suffix(3)), [.unused, .unused, .unused])
        XCTAssertEqual(Array(padded.tokenTypes.prefix(count)), spec.resolvedTokenTypes)
        XCTAssertEqual(spec.padded(toCount: count), spec)
        // Written and read back, the pads are tokens like any other; text still tokenizes as before.
        let read = try XCTUnwrap(GGUFTokenizer.read(from: file(try GGUFTokenizer.metadata(for: padded, file: "out.gguf"), "pad.gguf")))
        XCTAssertEqual(read.vocabulary.count, count + 3)
        XCTAssertEqual(try read.tokenizer().encode("hello"), try spec.tokenizer().encode("hello"))

        var bytePairs = spec
        bytePairs.model = .bytePairs
        XCTAssertEqual(Array(bytePairs.padded(toCount: count + 2).vocabulary.suffix(2)), ["[PAD\(count)]", "[PAD\(count + 1)]"])
    }

    func testAbsentKeysTakeLlamaCppsDefaults() throws {
        let spec = TokenizerSentencePieceTests.spec()
        let kept: Set = ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores"]
        let metadata = try GGUFTokenizer.metadata(for: spec, file: "out.gguf").filter { kept.contains($0.key) }
        let read = try XCTUnwrap(GGUFTokenizer.read(from: file(metadata, "defaults.gguf")))
        XCTAssertTrue(read.addBos, "llama.cpp adds BOS for SentencePiece unless the file says not to")
        XCTAssertEqual(read.dummyPrefix, .always)
        XCTAssertFalse(read.addEos)
        XCTAssertEqual(read.tokenTypes, Array(repeating: .normal, count: spec.vocabulary.count),
                       "without types every token is normal, as in llama.cpp")
        XCTAssertEqual(read.specialTokenIds, [])
    }

    func testIntegerScoresReadAsFloats() throws {
        let spec = TokenizerSentencePieceTests.spec()
        let metadata = try GGUFTokenizer.metadata(for: spec, file: "out.gguf").map { entry in
            entry.key == "tokenizer.ggml.scores"
                ? (entry.key, GGUFValue.array(.int32, spec.scores.map { .int32(Int32($0)) })) : entry
        }
        XCTAssertEqual(try GGUFTokenizer.read(from: file(metadata, "int.gguf"))?.scores, spec.scores)
    }

    func testMalformedScoresAndTypesNameTheFile() throws {
        let spec = TokenizerSentencePieceTests.spec()
        let good = try GGUFTokenizer.metadata(for: spec, file: "out.gguf")
        func replacing(_ key: String, with value: GGUFValue?) -> [(String, GGUFValue)] {
            good.compactMap { $0.key == key ? value.map { (key, $0) } : ($0.key, $0.value) }
        }
        let cases: [(String, [(String, GGUFValue)], String)] = [
            ("noscores.gguf", replacing("tokenizer.ggml.scores", with: nil), "tokenizer.ggml.scores is missing"),
            ("shortscores.gguf", replacing("tokenizer.ggml.scores", with: .array(.float32, [.float32(0)])),
             "tokenizer.ggml.scores must be an array of \(spec.vocabulary.count)"),
            ("textscores.gguf", replacing("tokenizer.ggml.scores",
                                          with: .array(.string, spec.vocabulary.map { .string($0) })),
             "neither float32 nor int32"),
            ("shorttypes.gguf", replacing("tokenizer.ggml.token_type", with: .array(.int32, [.int32(1)])),
             "tokenizer.ggml.token_type must be an array"),
            ("model.gguf", replacing("tokenizer.ggml.model", with: .string("t5")), "unsupported tokenizer model \"t5\""),
        ]
        for (name, metadata, problem) in cases {
            let path = directory.file(name)
            assertMopError(path, problem) { try GGUFTokenizer.read(from: file(metadata, name)) }
        }
        var unscored = spec
        unscored.scores = []
        XCTAssertThrowsError(try GGUFTokenizer.metadata(for: unscored, file: "out.gguf")) {
            XCTAssertEqual(($0 as? MopError)?.file, "out.gguf")
        }
    }
}
