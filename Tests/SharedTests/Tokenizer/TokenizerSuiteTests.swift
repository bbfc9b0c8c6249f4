import Foundation
import XCTest
@testable import Shared

/// llama.cpp's tokenizer test suite (scripts/fetch-tokenizer-suite.sh): for every vocab-only GGUF, mop either gives
/// the expected ids on every test string of its .inp/.out pair, or refuses the file with an error naming what it does
/// not implement; never a silently different tokenization. The outcome of each file is fixed in `outcomes`, so a file
/// that starts or stops passing fails the test. Each file's line of the docs/results/tokenizers.md table is printed.
final class TokenizerSuiteTests: XCTestCase {
    private enum Outcome {
        /// Exact ids on every pair, and the expected ids decode back to the string (they do for every file here).
        case exact
        /// Read and built, but the suite has no test strings for it.
        case readsWithoutPairs
        /// Refused: the error contains this text.
        case refused(String)
    }

    private static let outcomes: [String: Outcome] = [
        "ggml-vocab-aquila.gguf": .refused("unsupported GGUF version 2"),
        "ggml-vocab-baichuan.gguf": .readsWithoutPairs,
        "ggml-vocab-bert-bge.gguf": .refused("unsupported tokenizer model \"bert\""),
        "ggml-vocab-command-r.gguf": .exact,
        "ggml-vocab-deepseek-coder.gguf": .exact,
        "ggml-vocab-deepseek-llm.gguf": .exact,
        "ggml-vocab-falcon.gguf": .exact,
        "ggml-vocab-gemma-4.gguf": .refused("unsupported tokenizer model \"gemma4\""),
        "ggml-vocab-gpt-2.gguf": .exact,
        "ggml-vocab-gpt-neox.gguf": .readsWithoutPairs,
        "ggml-vocab-llama-bpe.gguf": .exact,
        "ggml-vocab-llama-spm.gguf": .exact,
        "ggml-vocab-mpt.gguf": .exact,
        "ggml-vocab-nomic-bert-moe.gguf": .refused("unsupported tokenizer model \"t5\""),
        "ggml-vocab-phi-3.gguf": .exact,
        "ggml-vocab-qwen2.gguf": .exact,
        "ggml-vocab-qwen35.gguf": .refused("unsupported pre-tokenizer \"qwen35\""),
        "ggml-vocab-refact.gguf": .exact,
        "ggml-vocab-starcoder.gguf": .exact,
    ]

    func testEveryVocabularyPassesExactlyOrIsRefused() throws {
        let folder = try RealInputs.tokenizerSuite()
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasPrefix("ggml-vocab-") && $0.hasSuffix(".gguf") }.sorted()
        XCTAssertEqual(Set(files), Set(Self.outcomes.keys), "every file of the suite has an outcome, and only those")
        var table: [String] = []
        for name in files {
            let path = folder + "/" + name
            do {
                table.append(try check(name, path: path))
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
        print(table.joined(separator: "\n"))
    }

    /// Checks one vocabulary against its outcome and returns its line of the results table.
    private func check(_ name: String, path: String) throws -> String {
        switch Self.outcomes[name] {
        case .exact:
            let tokenizer = try XCTUnwrap(GGUFTokenizer.read(from: GGUFFile(path: path))).tokenizer(file: path)
            let pairs = try Self.pairs(path)
            XCTAssertGreaterThan(pairs.count, 30, name)
            var exact = 0, roundTrips = 0
            for (text, expected) in pairs {
                let ids = tokenizer.encode(text, addingSpecialTokens: false)
                XCTAssertEqual(ids, expected, "\(name): \(text.debugDescription)")
                if ids == expected { exact += 1 }
                // Compared as scalars: String equality is canonical equivalence, which would hide a normalization.
                XCTAssertEqual(Array(tokenizer.decode(expected).unicodeScalars), Array(text.unicodeScalars),
                               "\(name) decodes back: \(text.debugDescription)")
                if Array(tokenizer.decode(expected).unicodeScalars) == Array(text.unicodeScalars) { roundTrips += 1 }
            }
            return "| \(name) | \(Self.kind(tokenizer.spec)) | pass | \(exact) of \(pairs.count) strings exact, "
                + "\(roundTrips) decoded back |"
        case .readsWithoutPairs:
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".inp"), "\(name) has pairs: check them")
            let tokenizer = try XCTUnwrap(GGUFTokenizer.read(from: GGUFFile(path: path))).tokenizer(file: path)
            XCTAssertFalse(tokenizer.encode("Hello world", addingSpecialTokens: false).isEmpty, name)
            return "| \(name) | \(Self.kind(tokenizer.spec)) | read | no test strings in the suite |"
        case .refused(let reason):
            XCTAssertThrowsError(try GGUFTokenizer.read(from: GGUFFile(path: path))?.tokenizer(file: path), name) {
                let message = ($0 as? MopError)?.description ?? "\($0)"
                XCTAssertTrue(message.contains(reason), "\(name): \(message)")
                XCTAssertTrue(message.hasPrefix(path + ": "), "the error names the file: \(message)")
            }
            return "| \(name) | | refused | \(reason) |"
        case nil:
            XCTFail("\(name) has no outcome")
            return "| \(name) | | unknown | |"
        }
    }

    /// The tokenizer model and, for byte-level BPE, the pre-tokenizer row, as the table shows them.
    private static func kind(_ spec: TokenizerSpec) -> String {
        spec.model == .bytePairs ? "\(spec.model.ggufName), \(spec.preTokenizer.name)" : spec.model.ggufName
    }

    func testPairsFormatFollowsLlamaCppsReader() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("suite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("v.gguf").path
        try Data("a b\n__ggml_vocab_test__\n\n__ggml_vocab_test__\n\n\n__ggml_vocab_test__\n".utf8).write(to: URL(fileURLWithPath: path + ".inp"))
        try Data(" 1 2\n\n3\n".utf8).write(to: URL(fileURLWithPath: path + ".out"))
        let pairs = try Self.pairs(path)
        XCTAssertEqual(pairs.map(\.text), ["a b", "", "\n"])
        XCTAssertEqual(pairs.map(\.ids), [[1, 2], [], [3]])
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: path + ".out"))
        XCTAssertThrowsError(try Self.pairs(path), "three strings, one line of ids")
    }

    /// The test strings of `path`.inp and their ids from `path`.out, as tests/test-tokenizer-0.cpp reads them:
    /// strings separated by "\n__ggml_vocab_test__\n" (the last one ends at the last separator or the end of the
    /// file), one line of space-separated ids per string.
    private static func pairs(_ path: String) throws -> [(text: String, ids: [Int32])] {
        let raw = Array(try Data(contentsOf: URL(fileURLWithPath: path + ".inp")))
        let separator = Array("\n__ggml_vocab_test__\n".utf8)
        var texts: [String] = []
        var start = 0
        while start < raw.count {
            var next = start
            while next + separator.count <= raw.count, !raw[next..<(next + separator.count)].elementsEqual(separator) {
                next += 1
            }
            if next + separator.count > raw.count { next = raw.count }
            texts.append(String(decoding: raw[start..<next], as: UTF8.self))
            start = next + separator.count
        }
        var lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path + ".out")), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
        // getline: a final newline ends the last line rather than starting an empty one.
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.count == texts.count else {
            throw MopError(file: path, "\(texts.count) test strings but \(lines.count) lines of ids")
        }
        return try zip(texts, lines).map { text, line in
            let ids = try line.split(separator: " ").map {
                guard let id = Int32($0) else { throw MopError(file: path + ".out", "\"\($0)\" is not an id") }
                return id
            }
            return (text, ids)
        }
    }
}
