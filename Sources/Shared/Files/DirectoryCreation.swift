import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Creating an output directory and its parents with an error that says what is in the way. Foundation's
/// createDirectory reports only "(NSCocoaErrorDomain error 512.)" when, say, a parent is a regular file.
public enum DirectoryCreation {
    /// Makes `path` and its missing parents; returns the directories it made, outermost first (a failed job removes
    /// those it made and left empty, never a folder that was there before).
    @discardableResult
    public static func create(_ path: String) throws -> [String] {
        var made: [String] = []
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
            if mkdir(current, 0o755) == 0 {
                made.append(current)
            } else if errno != EEXIST {
                let problem = String(cString: strerror(errno))
                removeIfEmpty(made)
                throw MopError(file: path, "cannot create the directory \(current): \(problem)")
            }
        }
        return made
    }

    /// Removes `directories` (as `create` returned them) that are still empty, innermost first.
    public static func removeIfEmpty(_ directories: [String]) {
        for directory in directories.reversed() { rmdir(directory) }
    }
}
