import Foundation
import XCTest
@testable import Shared

/// Issue 30 cases 3 and 10: the output folder of a job. A second job given a folder another job is writing is refused
/// with the first job's pid (prune, --resume, apply and finetune alike), a lock left by a dead job is taken over, and
/// no lock file stays in a finished output. A folder that cannot be written in fails before any work, and a job that
/// fails before writing anything removes the folder it made (never one that was there).
final class OutputFolderTests: XCTestCase {
    private var directory = ""
    private let quickly: TimeInterval = 30

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-output-folder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        chmod(directory + "/readonly", 0o755)
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    private func tinyPruneArgs(out: String) throws -> [String] {
        ["prune", try PruneFixtures.tinyModel(in: directory, layers: 2), "--target", "0.3", "--out", out,
         "--calibration", try PruneFixtures.alpaca(in: directory, rows: 8), "--calibration-samples", "4"]
    }

    // Case 3.
    func testASecondJobOnTheSameOutputFolderIsRefusedWithTheFirstJobsPid() throws {
        let model = try RealInputs.smolLM2()
        let out = directory + "/runs/x"
        let first = Process()
        first.executableURL = URL(fileURLWithPath: MopProcess.binary)
        first.arguments = ["prune", model, "--target", "0.2", "--out", out, "--calibration", RealInputs.sharedData + "/instruct/alpaca.jsonl",
                           "--calibration-samples", "8", "--seq-len", "64", "--max-iterations", "1"]
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { first.terminate() } }
        // The folder is made (and, now, locked) before the model loads: seconds before the first file is written.
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: out), Date() < deadline { usleep(10_000) }
        let taken = "in use by another mop job (pid \(first.processIdentifier))"
        try OneLineError.assert(try tinyPruneArgs(out: out), naming: out, saying: taken, within: quickly)
        let tiny = try PruneFixtures.tinyModel(in: directory, layers: 2), structure = directory + "/structure.json"
        try PruningStructure.identity(try GGUFModel.config(of: GGUFFile(path: tiny))).write(to: structure)
        try OneLineError.assert(["apply", tiny, "--structure", structure, "--out", out],
                                naming: out, saying: taken, within: quickly)
        try OneLineError.assert(["finetune", tiny, "--data",
                                 try PruneFixtures.alpaca(in: directory, rows: 8), "--out", out], naming: out, saying: taken, within: quickly)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertFalse(Self.entries(out).contains(DirectoryLock.fileName), "\(Self.entries(out))")
        XCTAssertTrue(Self.entries(out).contains("checkpoint.json"), "\(Self.entries(out))")
        // Resuming it while a job holds it is refused the same way.
        let holder = try DirectoryLock(directory: out)
        try OneLineError.assert(try tinyPruneArgs(out: out).map { $0 == "--out" ? "--resume" : $0 }, naming: out,
                                saying: "in use by another mop job (pid \(getpid()))", within: quickly)
        holder.release()
    }

    func testALockLeftByADeadJobIsTakenOverAndRemoved() throws {
        let out = directory + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        try Data("\(gone.processIdentifier)\n".utf8).write(to: URL(fileURLWithPath: out + "/" + DirectoryLock.fileName))
        let run = try MopProcess.run(try tinyPruneArgs(out: out), timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(Self.entries(out).contains(DirectoryLock.fileName), "\(Self.entries(out))")
        XCTAssertTrue(Self.entries(out).contains("structure.json"), "\(Self.entries(out))")
    }

    // Case 10.
    func testAFolderThatCannotBeWrittenInFailsBeforeAnyWork() throws {
        let readOnly = directory + "/readonly"
        try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
        XCTAssertEqual(chmod(readOnly, 0o555), 0)
        var args = try tinyPruneArgs(out: readOnly)
        // Root writes in a read-only folder all the same: run mop as nobody then.
        if geteuid() == 0 {
            XCTAssertEqual(chmod(directory, 0o755), 0)
            args = ["--reuid=65534", "--regid=65534", "--clear-groups", MopProcess.binary] + args
        }
        let start = Date()
        let run = try MopProcess.launch(geteuid() == 0 ? "/usr/bin/setpriv" : MopProcess.binary, args, timeout: 60, environment: [:])
        XCTAssertEqual(run.status, 1, run.stderr)
        // One line and no "prune: ... dense loss" before it: the folder is tried before the model loads.
        XCTAssertEqual(run.stderr, "mop: error: \(readOnly): cannot write in the output directory: Permission denied\n")
        XCTAssertLessThan(Date().timeIntervalSince(start), quickly)
        XCTAssertEqual(Self.entries(readOnly), [])
    }

    func testAnEarlyFailureRemovesTheFolderItMadeButNotOneThatWasThere() throws {
        let missing = directory + "/missing.jsonl"
        for command in ["prune", "finetune", "apply"] {
            let made = directory + "/new-\(command)/deeper"
            let args: [String]
            switch command {
            case "prune":
                args = try tinyPruneArgs(out: made).map { $0.hasSuffix("alpaca.jsonl") ? missing : $0 }
            case "finetune":
                args = ["finetune", try PruneFixtures.tinyModel(in: directory, layers: 2), "--data", missing, "--out", made]
            default:
                args = ["apply", try PruneFixtures.tinyModel(in: directory, layers: 2), "--structure", missing, "--out", made]
            }
            // Whichever problem of the missing file comes first (the tiny byte tokenizer has no EOS for prompts): the
            // error names it, after the folder was made.
            try OneLineError.assert(args, naming: missing, saying: missing + ": ", within: quickly)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/new-\(command)"), "\(command) left its folder")
        }
        let existing = directory + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        let args = try tinyPruneArgs(out: existing).map { $0.hasSuffix("alpaca.jsonl") ? missing : $0 }
        try OneLineError.assert(args, naming: missing, saying: missing + ": ", within: quickly)
        XCTAssertEqual(Self.entries(existing), [], "the user's folder stays, empty")
    }
}
