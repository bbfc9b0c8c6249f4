import Foundation

/// This process's resident memory, from Linux's /proc: the current and peak resident set, and a reset of the peak so
/// that the peak of one piece of work can be measured on its own.
public enum ProcessMemory {
    /// Resident bytes now (VmRSS).
    public static func resident(statusFile: String = "/proc/self/status") throws -> Int {
        try field("VmRSS", statusFile: statusFile)
    }

    /// Peak resident bytes since the process started or since the last `resetPeak` (VmHWM).
    public static func peak(statusFile: String = "/proc/self/status") throws -> Int {
        try field("VmHWM", statusFile: statusFile)
    }

    /// Sets the peak back to the current resident size (writing 5 to clear_refs, Linux 4.0 and later).
    public static func resetPeak(clearRefsFile: String = "/proc/self/clear_refs") throws {
        guard let handle = FileHandle(forWritingAtPath: clearRefsFile) else {
            throw MopError(file: clearRefsFile, "cannot be written (resetting the peak memory needs Linux's /proc)")
        }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)) } catch {
            throw MopError(file: clearRefsFile, "does not accept 5 (the kernel cannot reset the peak memory)")
        }
    }

    static func field(_ key: String, statusFile: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: statusFile) else {
            throw MopError(file: statusFile, "cannot be read (memory figures need Linux's /proc)")
        }
        return try field(key, status: String(decoding: data, as: UTF8.self), file: statusFile)
    }

    /// The `KEY:   123456 kB` line of a /proc status text, in bytes.
    public static func field(_ key: String, status: String, file: String) throws -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else {
            throw MopError(file: file, "has no \(key) line")
        }
        let fields = line.dropFirst(key.count + 1).split(separator: " ", omittingEmptySubsequences: true)
            .flatMap { $0.split(separator: "\t") }
        guard fields.count == 2, fields[1] == "kB", let kilobytes = Int(fields[0]), kilobytes >= 0 else {
            throw MopError(file: file, "has a malformed \(key) line '\(line)'")
        }
        let (bytes, overflow) = kilobytes.multipliedReportingOverflow(by: 1024)
        guard !overflow else { throw MopError(file: file, "has a \(key) of \(kilobytes) kB, too large") }
        return bytes
    }
}
