import Foundation

/// The frame every typed message between ranks travels in (docs/design.md#messages-between-ranks): the sender encodes a
/// message once and every receiver checks its kind and format version before decoding, so ranks built from different
/// versions of mop, or a corrupted buffer, fail with a clear error instead of misreading each other.
///
/// Layout, little-endian: magic "MOPM" (4 bytes), format version (UInt16), kind (UInt16), payload length (UInt64),
/// payload.
public enum MessageEnvelope {
    public static let magic: [UInt8] = Array("MOPM".utf8)
    /// Raised whenever the layout of any message payload changes.
    public static let version: UInt16 = 1
    static let headerSize = 16

    /// What a payload is; receivers name the kind they expect.
    public enum Kind: UInt16, Sendable, CaseIterable {
        case scoringRequest = 1
        case modelHeader = 2
        case scoringBatch = 3
    }

    public static func seal(_ kind: Kind, _ payload: [UInt8]) -> [UInt8] {
        var bytes = magic
        bytes.reserveCapacity(headerSize + payload.count)
        append(version, to: &bytes)
        append(kind.rawValue, to: &bytes)
        append(UInt64(payload.count), to: &bytes)
        return bytes + payload
    }

    /// The payload of a `kind` message; `sender` names where the bytes came from in the error.
    public static func open(_ bytes: [UInt8], expecting kind: Kind, from sender: String) throws -> ArraySlice<UInt8> {
        func fail(_ problem: String) -> MopError { MopError("malformed \(kind) message from \(sender): \(problem)") }
        guard bytes.count >= headerSize else { throw fail("\(bytes.count) bytes, shorter than the \(headerSize)-byte header") }
        guard Array(bytes[0..<4]) == magic else { throw fail("no MOPM magic") }
        let version: UInt16 = read(bytes, at: 4)
        guard version == Self.version else {
            throw fail("format version \(version), this mop speaks \(Self.version) (are all ranks the same build?)")
        }
        let rawKind: UInt16 = read(bytes, at: 6)
        guard rawKind == kind.rawValue else {
            throw fail("it is a \(Kind(rawValue: rawKind).map { "\($0)" } ?? "kind \(rawKind)") message")
        }
        let length: UInt64 = read(bytes, at: 8)
        guard length == UInt64(bytes.count - headerSize) else {
            throw fail("the header announces \(length) payload bytes, \(bytes.count - headerSize) arrived")
        }
        return bytes[headerSize...]
    }

    /// JSON payloads with sorted keys, so one message always has the same bytes (dictionary order is randomised
    /// per process otherwise).
    public static func json<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Messages are plain value types of strings, integers and arrays: encoding cannot fail.
        return Array(try! encoder.encode(value))
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private static func read<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
