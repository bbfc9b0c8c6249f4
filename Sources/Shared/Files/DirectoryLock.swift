import CFaults
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive hold on a folder for one process: flock(2) on a lock file inside it, holding the holder's pid, so a
/// second job given the same output folder is refused with the pid of the first instead of mixing its files in. The
/// kernel drops the flock when the holder dies however it dies, so a lock file a killed run left behind is taken
/// over, never obeyed. Creating the lock file is also the first write into the folder: a folder that cannot be
/// written in fails here, before any work.
public final class DirectoryLock {
    public static let fileName = ".mop.lock"

    public let directory: String
    private let path: String
    private var descriptor: Int32

    /// Locks `directory` (which must exist), or throws `DIR: in use by another mop job (pid N)`.
    public init(directory: String) throws {
        self.directory = directory
        path = (directory as NSString).appendingPathComponent(Self.fileName)
        // Registered for removal like a partial file, so a SIGTERM or a fault leaves no lock file either.
        try TemporaryFiles.register(path)
        do {
            descriptor = try Self.acquire(path, directory: directory)
        } catch {
            TemporaryFiles.unregister(path)
            throw error
        }
    }

    deinit { release() }

    /// Removes the lock file and drops the lock; the holder calls it when its job ends, successfully or not.
    public func release() {
        guard descriptor >= 0 else { return }
        // Unlinked while still locked: a job waiting on this file finds it gone and takes a fresh one.
        unlink(path)
        TemporaryFiles.unregister(path)
        close(descriptor)
        descriptor = -1
    }

    /// A descriptor of the lock file at `path`, locked and holding this process's pid.
    private static func acquire(_ path: String, directory: String) throws -> Int32 {
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw MopError(file: directory, "cannot write in the output directory: \(String(cString: strerror(errno)))")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let problem = errno
                let holder = Self.pid(in: fd)
                close(fd)
                guard problem == EWOULDBLOCK else {
                    throw MopError(file: directory, "cannot lock the output directory: \(String(cString: strerror(problem)))")
                }
                throw MopError(file: directory, "in use by another mop job" + (holder.map { " (pid \($0))" } ?? ""))
            }
            // The holder may have unlinked the file between our open and our flock: the lock is then on a file
            // nobody else will see, so start again on the file the path names now.
            var held = stat(), named = stat()
            guard fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino, held.st_dev == named.st_dev else {
                close(fd)
                continue
            }
            let text = "\(getpid())\n"
            guard ftruncate(fd, 0) == 0, pwrite(fd, text, text.utf8.count, 0) == text.utf8.count else {
                let problem = String(cString: strerror(errno))
                unlink(path)
                close(fd)
                throw MopError(file: directory, "cannot write in the output directory: \(problem)")
            }
            return fd
        }
    }

    /// The pid the holder wrote, if it has written it yet.
    private static func pid(in fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
