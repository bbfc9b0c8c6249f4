/// A 64-bit fingerprint of bytes (the model checksum, the calibration file's): not cryptographic, it catches
/// accidents, not adversaries. Four independent lanes keep the multiply chains parallel, so hundreds of MB take a
/// fraction of a second.
public struct Fingerprint {
    private var lanes: (UInt64, UInt64, UInt64, UInt64) = (0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F,
                                                           0x1656_67B1_9E37_79F9, 0x85EB_CA77_C2B2_AE63)
    private var length: UInt64 = 0
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    @inline(__always) private static func mix(_ lane: UInt64, _ word: UInt64) -> UInt64 {
        let product = (lane ^ word) &* prime
        return (product << 31) | (product >> 33)  // the rotation carries high bits back down
    }

    public init() {}

    public mutating func absorb(_ bytes: [UInt8]) { bytes.withUnsafeBytes { absorb($0) } }

    public mutating func absorb(_ raw: UnsafeRawBufferPointer) {
        let words = raw.count / 8
        var i = 0
        while i + 4 <= words {
            lanes.0 = Self.mix(lanes.0, raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
            lanes.1 = Self.mix(lanes.1, raw.loadUnaligned(fromByteOffset: 8 * (i + 1), as: UInt64.self))
            lanes.2 = Self.mix(lanes.2, raw.loadUnaligned(fromByteOffset: 8 * (i + 2), as: UInt64.self))
            lanes.3 = Self.mix(lanes.3, raw.loadUnaligned(fromByteOffset: 8 * (i + 3), as: UInt64.self))
            i += 4
        }
        for word in i..<words { lanes.0 = Self.mix(lanes.0, raw.loadUnaligned(fromByteOffset: 8 * word, as: UInt64.self)) }
        var tail: UInt64 = 0
        for offset in (8 * words)..<raw.count { tail = tail << 8 | UInt64(raw[offset]) }
        lanes.0 = Self.mix(lanes.0, tail)
        // The length separates tensors, so moving a value from one tensor to the next changes the sum.
        length &+= UInt64(raw.count)
        lanes.1 = Self.mix(lanes.1, length)
    }

    public func finish() -> UInt64 {
        var h = Self.mix(Self.mix(Self.mix(lanes.0, lanes.1), lanes.2), lanes.3)
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return h
    }

    /// A fingerprint as 16 hex digits, as error messages, reports and checkpoints show it.
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
