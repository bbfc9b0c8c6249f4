import Foundation
import XCTest

/// `mop tokenize` on SmolLM2: the ids Hugging Face `tokenizers` gave for the committed fixture strings, from a string
/// and from a file; BOS only on request; bad inputs end with one error line.
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
