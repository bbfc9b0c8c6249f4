import XCTest
@testable import Shared

/// `TextFile.decode`: the one wording of every UTF-8 check, naming the source and the first invalid byte.
final class TextFileDecodeTests: XCTestCase {
    func testInvalidBytesAreNamedWithTheirOffset() throws {
        XCTAssertEqual(try TextFile.decode(Array("café".utf8), source: "--prompt"), "café")
        let cases: [([UInt8], String)] = [
            ([0x61, 0xFF, 0x62], "--prompt: not valid UTF-8 (byte 0xFF at offset 1)"),
            // A truncated sequence is reported at its lead byte, after the valid two-byte é.
            ([0xC3, 0xA9, 0xE2, 0x82], "--prompt: not valid UTF-8 (byte 0xE2 at offset 2)"),
            // An encoded surrogate is not UTF-8.
            ([0xED, 0xA0, 0x80], "--prompt: not valid UTF-8 (byte 0xED at offset 0)"),
        ]
        for (bytes, message) in cases {
            XCTAssertThrowsError(try TextFile.decode(bytes, source: "--prompt")) { XCTAssertEqual("\($0)", message) }
        }
        XCTAssertThrowsError(try TextFile.decode([0x80][...], source: "f.txt", place: "line 3: ")) {
            XCTAssertEqual("\($0)", "f.txt: line 3: not valid UTF-8 (byte 0x80 at offset 0)")
        }
    }
}
