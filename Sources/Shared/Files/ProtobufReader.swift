/// Reads the fields of one protobuf message from its wire bytes: enough of the format to take a few known fields out
/// of a file (SentencePiece's `tokenizer.model`) without a protobuf library. Fields come in file order; the caller
/// keeps the ones it knows and skips the rest. Malformed bytes (a varint past the end or longer than ten bytes, a
/// length beyond the message, a group or unknown wire type) are errors naming `file`.
struct ProtobufReader {
    /// One field's value as the wire carries it; a nested message, a string and packed repeats are `bytes`.
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    private let bytes: ArraySlice<UInt8>
    private let file: String
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>, file: String) {
        self.bytes = bytes
        self.file = file
        position = bytes.startIndex
    }

    /// The next field number and value, nil at the end of the message.
    mutating func next() throws -> (field: Int, value: Value)? {
        guard position < bytes.endIndex else { return nil }
        let key = try varint()
        let field = Int(truncatingIfNeeded: key >> 3)
        guard field > 0, key >> 3 <= UInt64(Int32.max) else { throw error("field number \(key >> 3) is out of range") }
        switch key & 7 {
        case 0:
            return (field, .varint(try varint()))
        case 1:
            return (field, .fixed64(UInt64(littleEndianBytes: try take(8))))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else {
                throw error("field \(field) is \(length) bytes long, beyond the end of its message")
            }
            return (field, .bytes(try take(Int(length))))
        case 5:
            return (field, .fixed32(UInt32(truncatingIfNeeded: UInt64(littleEndianBytes: try take(4)))))
        default:
            throw error("field \(field) has wire type \(key & 7), which is not one of 0, 1, 2 and 5")
        }
    }

    private mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard position < bytes.endIndex else { throw error("a varint runs past the end of its message") }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        throw error("a varint is longer than ten bytes")
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= bytes.endIndex - position else { throw error("a field runs past the end of its message") }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private func error(_ problem: String) -> MopError {
        MopError(file: file, "malformed protobuf at byte \(position): \(problem)")
    }
}

extension UInt64 {
    /// The value of up to eight little-endian bytes.
    init(littleEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
