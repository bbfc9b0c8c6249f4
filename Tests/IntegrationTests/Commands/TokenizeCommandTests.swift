import Foundation
import XCTest

/// `mop tokenize` on SmolLM2: the ids Hugging Face `tokenizers` gave for the committed fixture strings, from a string
/// and from a file; BOS only on request; whether the ids decode back to the text; bad inputs end with one error line.
final class TokenizeCommandTests: XCTestCase {
    func fixture() throws -> [String: Any] {
        let url = RealInputs.packageRoot.appendingPathComponent("Tests/SharedTests/Fixtures/tokenizer-smollm2.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func fixtureCases() throws -> [(text: String, ids: [Int])] {
        let fixture = try fixture()
        return try XCTUnwrap(fixture["cases"] as? [[String: Any]]).compactMap { entry in
            guard let text = entry["text"] as? String, let ids = entry["ids"] as? [Int], !text.isEmpty else { return nil }
            return (text, ids)
        }
    }

    func testIdsEqualHuggingFaceOnTheFixtureStrings() throws {
        let model = try RealInputs.smolLM2()
        let cases = try fixtureCases()
        XCTAssertGreaterThan(cases.count, 20)
        for (text, ids) in cases.prefix(8) {
            let run = try MopProcess.run(["tokenize", model, "--string", text, "--json"])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(run.json?["ids"] as? [Int], ids, text.debugDescription)
            XCTAssertEqual(run.json?["tokens"] as? Int, ids.count)
            XCTAssertEqual(run.json?["decodes_back"] as? Bool, true, text.debugDescription)
        }
        // From a file: the fixture's 20,000 characters of WikiText-2.
        let fixture = try fixture()
        let prefix = try XCTUnwrap(fixture["wikitext_prefix"] as? String)
        let expected = try XCTUnwrap(fixture["wikitext_ids"] as? String).split(separator: " ").compactMap { Int($0) }
        let path = NSTemporaryDirectory() + "mop-tokenize-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try prefix.write(toFile: path, atomically: true, encoding: .utf8)
        let file = try MopProcess.run(["tokenize", model, "--text", path])
        XCTAssertEqual(file.status, 0, file.stderr)
        XCTAssertEqual(file.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }, expected)
        XCTAssertGreaterThan(expected.count, 4000)
    }

    func testDecodesBackIsByteExact() throws {
        let model = try RealInputs.qwen05()
        // With --add-bos, a BOS the tokenizer adds is left out of the round trip.
        let plain = try MopProcess.run(["tokenize", model, "--string", "Hello, world 123", "--add-bos", "--json"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(plain.json?["decodes_back"] as? Bool, true)
        // Qwen2 puts text in NFC: a decomposed é comes back composed, equal as a Swift string but not as bytes.
        let decomposed = try MopProcess.run(["tokenize", model, "--string", "Cafe\u{301}", "--json"])
        XCTAssertEqual(decomposed.status, 0, decomposed.stderr)
        XCTAssertEqual(decomposed.json?["decodes_back"] as? Bool, false)
    }

    func testBadInputs() throws {
        let model = try RealInputs.smolLM2()
        let neither = try MopProcess.run(["tokenize", model])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.stderr.contains("exactly one of --text and --string"), neither.stderr)
        let missing = try MopProcess.run(["tokenize", model, "--text", "/nonexistent/text.txt"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/text.txt"), missing.stderr)
    }
}
