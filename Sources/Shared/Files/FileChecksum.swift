import Foundation

/// A 64-bit fingerprint (FNV-1a) of a file's bytes, so a checkpoint can tell that `--resume` was given another
/// calibration file than the run it continues. Not cryptographic: it catches accidents, not adversaries.
public enum FileChecksum {
    /// Of the whole regular file at `path`, as 16 hex digits.
    public static func hex(of path: String) throws -> String {
        let digits = String(of(try RegularFile.read(path)), radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    static func of(_ data: Data) -> UInt64 {
        data.withUnsafeBytes { raw in
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in raw {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            return hash
        }
    }
}
