import Foundation
import Shared

/// The output directory of `mop prune`, `mop apply` and `mop finetune`: a new or empty directory, or (to resume) one
/// holding a checkpoint. A directory with anything else in it is refused, so a typo never mixes a run's files into
/// unrelated ones; a directory another job is writing is refused with that job's pid (DirectoryLock).
public enum OutputDirectory {
    public static var checkpointName: String { SearchCheckpoint.fileName }

    /// A job's hold on its output directory, from `claim` until `release`.
    public final class Claim {
        public let path: String
        private let lock: DirectoryLock
        /// The directories `claim` made (the output directory and missing parents).
        private let made: [String]

        init(path: String, lock: DirectoryLock, made: [String]) {
            self.path = path
            self.lock = lock
            self.made = made
            // A job killed by a signal or a fault (TemporaryFiles' handlers) removes them too, if they are empty.
            for directory in made { try? TemporaryFiles.register(directory) }
        }

        /// Drops the lock and its file, and removes the directories `claim` made if the job wrote nothing in them
        /// (it failed early): a failed run leaves no empty output folder, and a folder that was there is never removed.
        public func release() {
            lock.release()
            DirectoryCreation.removeIfEmpty(made)
            for directory in made { TemporaryFiles.unregister(directory) }
        }
    }

    /// Makes `path` if it is missing (not to resume), locks it for this job and checks it as `prepare` does; taking
    /// the lock writes a file in it, so a folder that cannot be written in fails here, before any work. Only rank 0
    /// claims: nodes need not share a filesystem.
    public static func claim(_ path: String, resuming: Bool) throws -> Claim {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue { throw MopError(file: path, "exists and is not a directory") }
        // Resuming: the checkpoint is looked for before anything is made or locked.
        if resuming { _ = try prepare(path, resuming: true, create: false) }
        let made = exists ? [] : try DirectoryCreation.create(path)
        do {
            let lock = try DirectoryLock(directory: path)
            do {
                if !resuming { _ = try prepare(path, resuming: false, create: false) }
            } catch {
                lock.release()
                throw error
            }
            return Claim(path: path, lock: lock, made: made)
        } catch {
            DirectoryCreation.removeIfEmpty(made)
            throw error
        }
    }

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
            // The lock file is this job's own (or a dead job's, which DirectoryLock takes over).
            let contents = ((try? manager.contentsOfDirectory(atPath: path)) ?? []).filter { $0 != DirectoryLock.fileName }
            guard contents.isEmpty else {
                throw MopError(file: path, "the output directory already holds \(contents.count) entries (\(contents.sorted().prefix(3).joined(separator: ", "))); give an empty or new one, or --resume it")
            }
        } else if create {
            try DirectoryCreation.create(path)
        }
        return path
    }
}
