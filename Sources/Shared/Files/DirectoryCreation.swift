import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Creating an output directory and its parents with an error that says what is in the way. Foundation's
/// createDirectory reports only "(NSCocoaErrorDomain error 512.)" when, say, a parent is a regular file.
public enum DirectoryCreation {
    public static func create(_ path: String) throws {
        var current = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            current += (current.isEmpty || current.hasSuffix("/") ? "" : "/") + component
            var info = stat()
            if stat(current, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw MopError(file: path, "cannot create the directory: \(current) is \(RegularFile.kind(info.st_mode)), not a directory")
                }
                continue
            }
            guard mkdir(current, 0o755) == 0 || errno == EEXIST else {
                throw MopError(file: path, "cannot create the directory \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}
