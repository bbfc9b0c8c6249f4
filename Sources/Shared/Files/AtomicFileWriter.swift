import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file under a temporary name next to its destination and renames it into place only on `commit()`,
/// so a reader never sees a half-written output and a failed write leaves the old file (if any) untouched.
/// Not thread-safe: one writer, one thread.
public final class AtomicFileWriter {
    public let path: String
    private let temporaryPath: String
    private var descriptor: Int32

    public init(path: String) throws {
        self.path = path
        // The pid keeps concurrent ranks writing the same output from clobbering each other's partial file.
        temporaryPath = TemporaryFiles.temporaryPath(for: path)
        // Registered before it exists, so a SIGTERM between open and registration cannot leave it behind.
        try TemporaryFiles.register(temporaryPath)
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            TemporaryFiles.unregister(temporaryPath)
            throw MopError(file: path, "cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        // Reached without a commit only on failure: drop the partial file.
        if descriptor >= 0 {
            close(descriptor)
            unlink(temporaryPath)
        }
        TemporaryFiles.unregister(temporaryPath)
    }

    /// Appends `bytes`, retrying short and interrupted writes.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else { throw MopError(file: path, "write after commit") }
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EFAULT, let changed = MappedFileFaults.changedFileError(at: base + offset) { throw changed }
                throw MopError(file: path, "cannot write \(temporaryPath): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Appends the bytes of an array or `Data`.
    public func append<Bytes: ContiguousBytes>(_ bytes: Bytes) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Writes `data` to `path` atomically: a temporary name, then a rename once it is complete.
    public static func write<Bytes: ContiguousBytes>(_ data: Bytes, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.append(data)
        try writer.commit()
    }

    /// Flushes the data to disk and renames the file into place.
    public func commit() throws {
        guard descriptor >= 0 else { throw MopError(file: path, "committed twice") }
        let synced = fsync(descriptor) == 0
        let syncError = errno
        let closed = close(descriptor) == 0
        descriptor = -1
        guard synced, closed else {
            unlink(temporaryPath)
            throw MopError(file: path, "cannot flush \(temporaryPath): \(String(cString: strerror(synced ? errno : syncError)))")
        }
        guard rename(temporaryPath, path) == 0 else {
            let problem = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw MopError(file: path, "cannot rename \(temporaryPath) into place: \(problem)")
        }
    }
}
