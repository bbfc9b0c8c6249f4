import Shared

/// The seeded byte mutations of `mop fuzz`, in the spirit of libFuzzer's: flips, interesting integers at any offset
/// (the lengths, counts and dimensions of a header), digits and signs in JSON, inserted, deleted and duplicated
/// chunks, truncation and splicing with another input. The same seed gives the same sequence of inputs.
struct FuzzMutator {
    var random: SeededRandom
    /// Cap on an input's size, so insertions cannot grow inputs without bound.
    let maxLength: Int

    static let interesting64: [UInt64] = [0, 1, 2, 7, 8, 31, 32, 63, 64, 255, 256, 4095, 65535, 65536, 1 << 31 - 1, 1 << 31,
                                          1 << 32 - 1, 1 << 32, 1 << 56, 9 << 56, 1 << 62, 1 << 63 - 1, 1 << 63, .max, .max - 1]
    static let tokens: [[UInt8]] = ["-1", "0", "1e300", "-1e-30", "2147483647", "9223372036854775807", "18446744073709551616",
                                    "null", "true", "[]", "{}", "\"\"", "\r\n", "\u{FEFF}", "\\u0000", "NaN", "1.5", "[[[[", "\"a\":"]
        .map { Array($0.utf8) }

    init(seed: UInt64, maxLength: Int) {
        random = SeededRandom(seed: seed)
        self.maxLength = maxLength
    }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(random.next() % UInt64(n)) }

    /// One to four mutations of `input`; `other` is a splice partner.
    mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0...below(4) { mutateOnce(&bytes, other: other) }
        return bytes.count > maxLength ? Array(bytes.prefix(maxLength)) : bytes
    }

    private mutating func mutateOnce(_ bytes: inout [UInt8], other: [UInt8]) {
        guard !bytes.isEmpty else { bytes = [UInt8(truncatingIfNeeded: random.next())]; return }
        let at = below(bytes.count)
        switch below(10) {
        case 0: bytes[at] ^= 1 << UInt8(below(8))
        case 1: bytes[at] = UInt8(truncatingIfNeeded: random.next())
        case 2, 3:
            // An interesting 8-, 4- or 2-byte little-endian integer: most header fields are one of these.
            let value = Self.interesting64[below(Self.interesting64.count)] &+ UInt64(bitPattern: Int64(below(3) - 1))
            let width = [8, 4, 2][below(3)]
            for i in 0..<width where at + i < bytes.count { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        case 4:
            // A JSON-ish token in place of a byte run: numbers out of range, wrong types, CRLF, a byte order mark.
            let token = Self.tokens[below(Self.tokens.count)]
            bytes.replaceSubrange(at..<min(bytes.count, at + below(8)), with: token)
        case 5:
            let end = min(bytes.count, at + 1 + below(64))
            bytes.removeSubrange(at..<end)
        case 6:
            let end = min(bytes.count, at + 1 + below(64))
            bytes.insert(contentsOf: bytes[at..<end], at: below(bytes.count))
        case 7: bytes.removeLast(below(bytes.count))
        case 8:
            guard !other.isEmpty else { return }
            let from = below(other.count)
            bytes.replaceSubrange(at..<bytes.count, with: other[from..<min(other.count, from + below(4096))])
        default:
            // An ASCII digit changed: counts and offsets written as JSON text.
            if let digit = bytes[at...].firstIndex(where: { (0x30...0x39).contains($0) }) { bytes[digit] = UInt8(0x30 + below(10)) }
        }
    }
}
