import XCTest
@testable import Shared

/// The scanner that reads tokenizer.json's vocabulary and merges with their strings as written.
final class JSONExactReaderTests: XCTestCase {
    private func read(_ text: String, _ path: [String] = ["model", "vocab"]) throws -> [(key: String, value: Int?)]? {
        try JSONExactReader.integerMembers(Array(text.utf8), path: path, file: "t.json")
    }

    /// A raw U+FEFF starting a string (Gemma's merges), which Foundation's parser drops, is kept; items are strings or
    /// pairs of strings, nil for anything else.
    func testStringListsKeepEveryScalar() throws {
        let text = "{\"model\": {\"vocab\": {\"a\": [1]}, \"merges\": [\"\u{2581} \u{FEFF}\", [\"\u{FEFF}\", \"b\\u0020\"], [], 3, [\"x\", 1], {\"k\": \"v\"}]}}"
        let items = try XCTUnwrap(JSONExactReader.stringLists(Array(text.utf8), path: ["model", "merges"], file: "t.json"))
        XCTAssertEqual(items.map { $0?.map { Array($0.unicodeScalars) } },
                       [[["\u{2581}", " ", "\u{FEFF}"]], [["\u{FEFF}"], ["b", " "]], [], nil, nil, nil])
        XCTAssertNil(try JSONExactReader.stringLists(Array(text.utf8), path: ["model", "vocab"], file: "t.json"))
        XCTAssertThrowsError(try JSONExactReader.stringLists(Array(#"{"model": {"merges": ["a" "b"]}}"#.utf8),
                                                             path: ["model", "merges"], file: "t.json"))
    }

    /// Canonically equivalent keys (Greek iota with tonos, U+03AF and U+1F77) stay two members, where a Swift
    /// dictionary would hold one.
    func testKeepsCanonicallyEquivalentKeysApart() throws {
        let text = #"{"a": [1, {"vocab": 2}], "model": {"x": {"vocab": {}}, "vocab": {"\#u{3AF}": 0, "\u1f77": 1, "\"q\\\ud83d\ude00": -2, "n": 1.5, "s": "z"}}}"#
        let members = try XCTUnwrap(read(text))
        XCTAssertEqual(members.map { Array($0.key.unicodeScalars) }, [["\u{3AF}"], ["\u{1F77}"], ["\"", "q", "\\", "\u{1F600}"], ["n"], ["s"]])
        XCTAssertEqual(members.map(\.value), [0, 1, -2, nil, nil])
        XCTAssertEqual(Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }).count, 4,
                       "String keys merge the two iotas")
    }

    func testMissingPathsAndMalformedInput() throws {
        XCTAssertNil(try read(#"{"model": {"merges": []}}"#))
        XCTAssertNil(try read(#"{"model": {"vocab": [1]}}"#))
        XCTAssertNil(try read(#"[1]"#))
        XCTAssertEqual(try read(#"{"model": {"vocab": {}}}"#)?.count, 0)
        for bad in [#"{"model": {"vocab": {"a": 1"#, #"{"model": {"vocab": {"a" 1}}}"#, #"{"model": {"vocab": {"\ud800": 1}}}"#,
                    #"{"model": {"vocab": {"a": [1, }}}"#, #"{"m": "unterminated"#,
                    #"{"model": {"vocab": {"\u12": 1}}}"#] {
            XCTAssertThrowsError(try read(bad), bad) { XCTAssertEqual(($0 as? MopError)?.file, "t.json") }
        }
    }
}
