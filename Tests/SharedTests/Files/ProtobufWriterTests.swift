import XCTest
@testable import Shared

/// `ProtobufWriter` writes the wire bytes protobuf's own encoder writes (checked against bytes from the protobuf
/// specification's examples), and `ProtobufReader` reads them back.
final class ProtobufWriterTests: XCTestCase {
    func testWritesTheSpecificationsBytes() {
        var writer = ProtobufWriter()
        writer.add(1, varint: 150)
        XCTAssertEqual(writer.bytes, [0x08, 0x96, 0x01])
        writer = ProtobufWriter()
        writer.add(2, string: "testing")
        XCTAssertEqual(writer.bytes, [0x12, 0x07] + Array("testing".utf8))
        writer = ProtobufWriter()
        // A negative int32 is sign-extended to ten bytes; 1.0 is 0x3F800000 little-endian.
        writer.add(43, int32: -1)
        writer.add(2, float: 1)
        writer.add(35, bool: true)
        XCTAssertEqual(writer.bytes, [0xD8, 0x02] + Array(repeating: 0xFF, count: 9) + [0x01]
            + [0x15, 0x00, 0x00, 0x80, 0x3F] + [0x98, 0x02, 0x01])
    }

    func testReaderReadsBackWhatWasWritten() throws {
        var inner = ProtobufWriter()
        inner.add(1, string: "▁a")
        var writer = ProtobufWriter()
        writer.add(1, bytes: inner.bytes)
        writer.add(40, int32: -1)
        writer.add(2, float: -2.5)
        var reader = ProtobufReader(writer.bytes[...], file: "f")
        guard case (1, .bytes(let message))? = try reader.next() else { return XCTFail("no message") }
        XCTAssertEqual(Array(message), inner.bytes)
        guard case (40, .varint(let value))? = try reader.next() else { return XCTFail("no varint") }
        XCTAssertEqual(Int32(truncatingIfNeeded: value), -1)
        guard case (2, .fixed32(let bits))? = try reader.next() else { return XCTFail("no float") }
        XCTAssertEqual(Float(bitPattern: bits), -2.5)
        XCTAssertNil(try reader.next())
    }
}
