import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Saves the input being run when it crashes the process (a Swift trap raises SIGILL or SIGTRAP; a failed allocation
/// SIGABRT) or runs past the timeout. The signal handler only calls async-signal-safe functions (open, write, _exit)
/// on a buffer prepared before the input ran.
enum FuzzWatchdog {
    nonisolated(unsafe) private static var current = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 24, alignment: 8)
    nonisolated(unsafe) private static var currentCount = 0
    nonisolated(unsafe) private static var crashPath: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var timeoutPath = ""
    nonisolated(unsafe) private static var startedAt = 0.0
    nonisolated(unsafe) private static var running = false
    private static let lock = NSLock()

    static func start(crashFile: String, timeoutFile: String, timeout: Double) {
        crashPath = strdup(crashFile)
        timeoutPath = timeoutFile
        for signalNumber in [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE] {
            signal(signalNumber) { number in
                FuzzWatchdog.saveCurrent()
                _exit(128 + number)
            }
        }
        Thread.detachNewThread {
            while true {
                Thread.sleep(forTimeInterval: min(0.1, timeout / 4))
                lock.lock()
                let overdue = running && Date().timeIntervalSinceReferenceDate - startedAt > timeout
                if overdue {
                    let data = Data(bytes: current.baseAddress!, count: currentCount)
                    try? data.write(to: URL(fileURLWithPath: timeoutPath))
                    FileHandle.standardError.write(Data("fuzz: an input ran longer than \(timeout) s; saved as \(timeoutPath)\n".utf8))
                    _exit(3)
                }
                lock.unlock()
            }
        }
    }

    static func begin(_ input: [UInt8]) {
        lock.lock()
        currentCount = min(input.count, current.count)
        input.withUnsafeBytes { current.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: currentCount) }
        startedAt = Date().timeIntervalSinceReferenceDate
        running = true
        lock.unlock()
    }

    static func end() {
        lock.lock()
        running = false
        lock.unlock()
    }

    /// Async-signal-safe: writes the current input to the crash file.
    private static func saveCurrent() {
        guard let crashPath else { return }
        let fd = open(crashPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        _ = write(fd, current.baseAddress, currentCount)
        close(fd)
        let note = "fuzz: crashed; the input is saved\n"
        _ = note.withCString { write(2, $0, strlen($0)) }
    }
}
