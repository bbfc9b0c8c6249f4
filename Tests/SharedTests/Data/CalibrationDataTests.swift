import Foundation
import XCTest
@testable import Shared

final class CalibrationDataTests: XCTestCase {
    typealias Support = SafetensorsTestSupport

    /// Writes `bytes` to a fresh temporary file named `name` and returns its path.
    private func write(_ bytes: Data, name: String) throws -> String {
        let path = try Support.temporaryDirectory(self) + "/" + name
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    private func write(_ text: String, name: String = "alpaca.jsonl") throws -> String {
        try write(Data(text.utf8), name: name)
    }

    func testPromptsFromJSONL() throws {
        let path = try write("""
        {"instruction": "Name a color.", "input": "", "output": "Red."}

        {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}
        {"instruction": "Say \\"hi\\"\\ntwice.", "output": "hi hi"}
        {"instruction": "Nulls count as absent.", "input": null}

        """)
        XCTAssertEqual(try CalibrationData.alpacaPrompts(path: path), [
            "Instruction: Name a color.\nResponse:",
            "Instruction: Add the numbers.\nInput: 2 and 3\nResponse:",
            "Instruction: Say \"hi\"\ntwice.\nResponse:",
            "Instruction: Nulls count as absent.\nResponse:",
        ])
    }

    func testPromptsOfTheSharedAlpacaFile() throws {
        let path = try RealInputs.sharedData("instruct/alpaca.jsonl")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "no shared data at \(path)")
        let prompts = try CalibrationData.alpacaPrompts(path: path)
        XCTAssertEqual(prompts.count, 5000)
        // Checked against Python's json module on the same file.
        XCTAssertEqual(Array(prompts.prefix(3)), [
            "Instruction: Give three tips for staying healthy.\nResponse:",
            "Instruction: What are the three primary colors?\nResponse:",
            "Instruction: Describe the structure of an atom.\nResponse:",
        ])
        XCTAssertEqual(prompts[6], "Instruction: Explain why the following fraction is equivalent to 1/4\nInput: 4/16\nResponse:")
    }

    func testMalformedJSONLNamesFileAndLine() throws {
        let good = "{\"instruction\": \"a\", \"input\": \"\", \"output\": \"b\"}"
        let cases: [(String, String)] = [
            ("\(good)\n\(good)\n{\"instruction\": \"x\",\n", "line 3: not valid JSON"),
            ("\(good)\n\n{\"input\": \"x\", \"output\": \"y\"}\n", "line 3: missing field \"instruction\""),
            ("[1, 2]\n", "line 1: not a JSON object"),
            ("\(good)\n\"just a string\"\n", "line 2: not a JSON object"),
            ("{\"instruction\": 5}\n", "line 1: field \"instruction\" is not a string"),
            ("{\"instruction\": \"a\", \"input\": [\"b\"]}\n", "line 1: field \"input\" is not a string"),
            ("", "holds no rows"),
            ("\n  \n\n", "holds no rows"),
        ]
        for (text, phrase) in cases {
            let path = try write(text)
            Support.assertMopError(try CalibrationData.alpacaPrompts(path: path), path: path, phrase: phrase)
        }
        // A Latin-1 byte (0xE9) on line 2, and a truncated multi-byte sequence at the end of line 1.
        for (bytes, phrase) in [(Data(good.utf8) + Data([0x0A, 0x7B, 0xE9, 0x7D, 0x0A]), "line 2: not valid UTF-8"),
                                (Data([0x22, 0xE2, 0x82, 0x0A]) + Data(good.utf8), "line 1: not valid UTF-8")] {
            let path = try write(bytes, name: "latin1.jsonl")
            Support.assertMopError(try CalibrationData.alpacaPrompts(path: path), path: path, phrase: phrase)
        }
        let absent = NSTemporaryDirectory() + "/mop-absent-\(UUID().uuidString).jsonl"
        Support.assertMopError(try CalibrationData.alpacaPrompts(path: absent), path: absent, phrase: "no such file or directory")
    }

    func testTextDocuments() throws {
        let jsonl = try write("{\"text\": \"first doc\\nwith two lines\", \"url\": \"u\"}\n\n{\"text\": \"second ü\"}\n", name: "c4.jsonl")
        XCTAssertEqual(try CalibrationData.textDocuments(path: jsonl), ["first doc\nwith two lines", "second ü"])

        // A CRLF line end reads as LF, as from a file saved on Windows.
        let plain = "= Title =\n\n Some text ü.\r\nLast line without newline"
        let textPath = try write(plain, name: "wiki.txt")
        XCTAssertEqual(try CalibrationData.textDocuments(path: textPath), ["= Title =\n\n Some text ü.\nLast line without newline"])

        let missing = try write("{\"text\": \"ok\"}\n{\"body\": \"no\"}\n", name: "bad.jsonl")
        Support.assertMopError(try CalibrationData.textDocuments(path: missing), path: missing, phrase: "line 2: missing field \"text\"")
        let binary = try write(Data("line one\nline two\n".utf8) + Data([0xFF, 0xFE]), name: "bin.txt")
        Support.assertMopError(try CalibrationData.textDocuments(path: binary), path: binary, phrase: "line 3: not valid UTF-8")
        let empty = try write("", name: "empty.txt")
        Support.assertMopError(try CalibrationData.textDocuments(path: empty), path: empty, phrase: "empty")
    }

    func testSelectFirstRowsOrASeededSample() throws {
        let rows = Array(100..<150)
        XCTAssertEqual(try CalibrationData.select(rows, count: 4, seed: nil, file: "d"), [100, 101, 102, 103])
        XCTAssertEqual(try CalibrationData.select(rows, count: 50, seed: nil, file: "d"), rows)
        XCTAssertEqual(try CalibrationData.select(rows, count: 0, seed: 9, file: "d"), [])

        let sample = try CalibrationData.select(rows, count: 10, seed: 7, file: "d")
        XCTAssertEqual(sample.count, 10)
        XCTAssertEqual(sample, sample.sorted(), "a sample keeps file order")
        XCTAssertEqual(Set(sample).count, 10, "sampled without replacement")
        XCTAssertTrue(sample.allSatisfy(rows.contains))
        XCTAssertNotEqual(sample, Array(rows.prefix(10)))
        XCTAssertEqual(try CalibrationData.select(rows, count: 10, seed: 7, file: "d"), sample, "deterministic")
        XCTAssertNotEqual(try CalibrationData.select(rows, count: 10, seed: 8, file: "d"), sample)
        // Sampling everything is a permutation put back in order.
        XCTAssertEqual(try CalibrationData.select(rows, count: 50, seed: 3, file: "d"), rows)

        // The sample is uniform: over many seeds every row is drawn about count/n = 1/5 of the time.
        var hits = [Int](repeating: 0, count: 50)
        for seed in 0..<2000 as Range<UInt64> {
            for row in try CalibrationData.select(rows, count: 10, seed: seed, file: "d") { hits[row - 100] += 1 }
        }
        XCTAssertTrue(hits.allSatisfy { (320...480).contains($0) }, "\(hits)")

        Support.assertMopError(try CalibrationData.select(rows, count: 51, seed: nil, file: "/d/alpaca.jsonl"),
                               path: "/d/alpaca.jsonl", phrase: "51 rows requested but the file has only 50")
        Support.assertMopError(try CalibrationData.select(rows, count: 51, seed: 1, file: "/d/alpaca.jsonl"),
                               path: "/d/alpaca.jsonl", phrase: "only 50")
        Support.assertMopError(try CalibrationData.select(rows, count: -1, seed: nil, file: "/d/a"), path: "/d/a", phrase: "cannot select -1")
    }

    func testSequencesCutConsecutiveWindows() {
        let tokens = (0..<23).map(Int32.init)
        XCTAssertEqual(CalibrationData.sequences(fromTokens: tokens, seqLen: 5, count: 3),
                       [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14]])
        // Only four whole windows fit; the trailing 3 tokens are dropped.
        XCTAssertEqual(CalibrationData.sequences(fromTokens: tokens, seqLen: 5, count: 10).last, [15, 16, 17, 18, 19])
        XCTAssertEqual(CalibrationData.sequences(fromTokens: tokens, seqLen: 5, count: 10).count, 4)
        XCTAssertEqual(CalibrationData.sequences(fromTokens: tokens, seqLen: 23, count: 2), [tokens])
        XCTAssertEqual(CalibrationData.sequences(fromTokens: tokens, seqLen: 24, count: 2), [])
        XCTAssertEqual(CalibrationData.sequences(fromTokens: tokens, seqLen: 0, count: 2), [])
        XCTAssertEqual(CalibrationData.sequences(fromTokens: tokens, seqLen: 5, count: 0), [])
    }
}
