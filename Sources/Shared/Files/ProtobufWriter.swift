/// Writes protobuf wire bytes field by field: the counterpart of `ProtobufReader`, enough to write SentencePiece's
/// `tokenizer.model` without a protobuf library. Fields are appended in the order given; a nested message is
/// written by its own writer and added as bytes.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    /// A varint field (wire type 0): integers, booleans and enums. Negative int32 values take ten bytes, as protobuf
    /// writes them.
    mutating func add(_ field: Int, varint value: UInt64) {
        key(field, wireType: 0)
        varint(value)
    }

    mutating func add(_ field: Int, int32 value: Int32) { add(field, varint: UInt64(bitPattern: Int64(value))) }

    mutating func add(_ field: Int, bool value: Bool) { add(field, varint: value ? 1 : 0) }

    /// A length-delimited field (wire type 2): a string, bytes or a nested message.
    mutating func add(_ field: Int, bytes value: [UInt8]) {
        key(field, wireType: 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func add(_ field: Int, string value: String) { add(field, bytes: Array(value.utf8)) }

    /// A float field (wire type 5, little-endian).
    mutating func add(_ field: Int, float value: Float) {
        key(field, wireType: 5)
        let bits = value.bitPattern
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: bits >> ($0 * 8)) }
    }

    private mutating func key(_ field: Int, wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    private mutating func varint(_ value: UInt64) {
        var value = value
        while value > 0x7F {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
