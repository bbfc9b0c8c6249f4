import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening and reading input files that must be regular files. A FIFO with no writer blocks `open` forever, a
/// character device (/dev/zero) never ends, a directory cannot be read: each is refused with an error that says so,
/// before any byte is read. `open` is non-blocking, so even a FIFO named in a race returns at once.
public enum RegularFile {
    /// A read-only descriptor of the regular file at `path`; the caller closes it.
    public static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let problem = errno == ENOENT ? "no such file or directory" : "cannot open: \(String(cString: strerror(errno)))"
            throw MopError(file: path, problem)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw MopError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw MopError(file: path, "is \(kind(info.st_mode)), not a regular file")
        }
        // Reads should block normally from here on.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// Refuses `path` unless it is a readable regular file: an input's problem shows before seconds of model loading.
    public static func check(_ path: String) throws {
        close(try open(path))
    }

    /// Refuses `path` unless it is a regular file or a directory, without opening it (a model path may be either).
    public static func requireFileOrDirectory(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw MopError(file: path, errno == ENOENT ? "no such file or directory" : "cannot stat: \(String(cString: strerror(errno)))")
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFDIR else { throw MopError(file: path, "is \(kind(info.st_mode)), not a regular file or a directory") }
    }

    /// The whole regular file at `path`, at most `limit` bytes (a larger one is an error, not an allocation).
    public static func read(_ path: String, limit: Int = 1 << 32) throws -> Data {
        let fd = try open(path)
        defer { close(fd) }
        var info = stat()
        _ = fstat(fd, &info)
        let size = Int(info.st_size)
        guard size <= limit else { throw MopError(file: path, "is \(size) bytes, more than the \(limit) this input may take") }
        var data = Data(count: size)
        var offset = 0
        let failure: Int32? = data.withUnsafeMutableBytes { buffer in
            while offset < size {
                let got = Glibc.read(fd, buffer.baseAddress! + offset, size - offset)
                if got < 0 && errno == EINTR { continue }
                if got < 0 { return errno }
                if got == 0 { break }  // the file shrank while being read
                offset += got
            }
            return nil
        }
        if let failure { throw MopError(file: path, "cannot read: \(String(cString: strerror(failure)))") }
        return data.prefix(offset)
    }

    /// "a directory", "a FIFO (named pipe)", ... for messages.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }
}
