import Foundation

/// The fingerprint of a file's bytes, so a checkpoint can tell that `--resume` was given another calibration file
/// than the run it continues.
public enum FileChecksum {
    /// Of the whole regular file at `path`, as 16 hex digits.
    public static func hex(of path: String) throws -> String {
        var fingerprint = Fingerprint()
        try RegularFile.read(path).withUnsafeBytes { fingerprint.absorb($0) }
        return Fingerprint.hex(fingerprint.finish())
    }
}
