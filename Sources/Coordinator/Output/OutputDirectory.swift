import Foundation
import Shared

/// The output directory of `mop prune`: a new or empty directory, or (to resume) one holding a checkpoint. A
/// directory with anything else in it is refused, so a typo never mixes a run's files into unrelated ones.
public enum OutputDirectory {
    public static var checkpointName: String { SearchCheckpoint.fileName }

    /// Checks `path` and, when `create`, makes it (only rank 0 creates). Returns the path.
    public static func prepare(_ path: String, resuming: Bool, create: Bool) throws -> String {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = manager.fileExists(atPath: path, isDirectory: &isDirectory)
        if resuming {
            guard exists, manager.fileExists(atPath: path + "/" + checkpointName) else {
                throw MopError(file: path, "nothing to resume: no \(checkpointName) in it")
            }
            // A killed run leaves its partial files (NAME.partial-PID); they are not part of any output.
            for stale in TemporaryFiles.removeStale(in: path) {
                FileHandle.standardError.write(Data("mop: removed \(stale), left by an interrupted run\n".utf8))
            }
            return path
        }
        if exists {
            guard isDirectory.boolValue else { throw MopError(file: path, "exists and is not a directory") }
            let contents = (try? manager.contentsOfDirectory(atPath: path)) ?? []
            guard contents.isEmpty else {
                throw MopError(file: path, "the output directory already holds \(contents.count) entries (\(contents.sorted().prefix(3).joined(separator: ", "))); give an empty or new one, or --resume it")
            }
        } else if create {
            try DirectoryCreation.create(path)
        }
        return path
    }
}
