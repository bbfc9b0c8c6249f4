import CFaults
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The partial files outputs are written to (`NAME.partial-PID`, see AtomicFileWriter): the ones this process has
/// open are removed when it is stopped by SIGTERM or SIGINT, and the ones a killed process left behind are removed
/// by `removeStale` (mop prune --resume), so an interrupted run never leaves temporaries in its output. The open ones
/// are kept in a C table (CFaults' mop_faults.h) that the SIGBUS handler of MappedFileFaults can read in signal
/// context.
public enum TemporaryFiles {
    static let marker = ".partial-"

    /// The temporary name of `path` for this process.
    public static func temporaryPath(for path: String) -> String { "\(path)\(marker)\(getpid())" }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var signalSources: [DispatchSourceSignal] = []

    /// Tracks `path` for removal if the process is stopped by a signal or a fault: a partial file is unlinked, a
    /// directory the job made is removed if it is then empty.
    public static func register(_ path: String) throws {
        guard mop_faults_add_partial(path) == 0 else {
            throw MopError(file: path, "cannot track the partial file: too many are open at once, or its path is too long")
        }
    }

    /// Stops tracking `path` (committed under its final name, removed, or a directory that now holds the results).
    public static func unregister(_ path: String) { mop_faults_remove_partial(path) }

    /// On SIGTERM or SIGINT: remove this process's partial files, then exit with 128 + the signal, as the shell does.
    /// The handler runs on a dispatch queue, not in signal context.
    public static func removeOnTermination() {
        lock.withLock {
            guard signalSources.isEmpty else { return }
            for signalNumber in [SIGTERM, SIGINT] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler {
                    mop_faults_unlink_partials()
                    _exit(128 + signalNumber)
                }
                source.resume()
                signalSources.append(source)
            }
        }
    }

    /// Removes, under `directory` (recursively), partial files whose writing process no longer runs; returns them.
    @discardableResult
    public static func removeStale(in directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var removed: [String] = []
        for case let relative as String in walker {
            let name = (relative as NSString).lastPathComponent
            guard let range = name.range(of: marker, options: .backwards),
                  let pid = Int32(name[range.upperBound...]), pid > 0, pid != getpid() else { continue }
            // kill(pid, 0) fails with ESRCH only when no such process exists.
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = (directory as NSString).appendingPathComponent(relative)
            if unlink(path) == 0 { removed.append(path) }
        }
        return removed
    }
}
