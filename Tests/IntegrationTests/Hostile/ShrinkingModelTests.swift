import Foundation
import XCTest
@testable import Shared

/// Issue 30 case 1: the model file shrinks while mop has it mapped (re-copied in place on a shared filesystem). The
/// next read of a lost page raises SIGBUS; every rank must end with one line `FILE: the file changed while it was in
/// use (now N bytes, was M)` and exit 1 within seconds, never a crash with a backtrace or a hang, leaving no partial
/// file and no lock file in its output.
final class ShrinkingModelTests: XCTestCase {
    private var directory = ""
    private var model = ""
    private var size = 0
    private let shrunk = 1 << 20
    /// A hang guard: the process ends within a second or two of the truncation.
    private let bound: TimeInterval = 30

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-shrink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = directory + "/m.gguf"
        try FileManager.default.copyItem(atPath: try RealInputs.smolLM2(), toPath: model)
        size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: model)[.size] as? Int)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private var message: String { "m.gguf: the file changed while it was in use (now \(shrunk) bytes, was \(size))" }

    func testEvalEndsWithOneLineWhenTheModelShrinks() throws {
        let run = try runShrinking(MopProcess.binary, evalArgs) { $0.contains("perplexity: ") }
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertEqual(run.stdout, "")
        let lines = run.stderr.split(separator: "\n").filter { !$0.hasPrefix("perplexity: ") }
        XCTAssertEqual(lines, ["mop: error: \(directory)/\(message)"], run.stderr)
    }

    func testPruneRemovesItsPartialAndLockFilesWhenTheModelShrinks() throws {
        let out = directory + "/out"
        let args = ["prune", model, "--target", "0.3", "--out", out, "--calibration", RealInputs.sharedData + "/instruct/alpaca.jsonl",
                    "--calibration-samples", "8", "--seq-len", "64"]
        // After the dense pass the search reads the weights again at once.
        let run = try runShrinking(MopProcess.binary, args) { $0.contains("dense loss") }
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("mop: error: \(directory)/\(message)"), run.stderr)
        let left = (FileManager.default.enumerator(atPath: out)?.allObjects as? [String]) ?? []
        XCTAssertFalse(left.contains { $0.contains(TemporaryFiles.marker) || $0.hasSuffix(DirectoryLock.fileName) }, "left behind: \(left)")
        // Nothing was written before the first iteration: the folder the job made goes too.
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "left behind: \(out)")
    }

    func testApplyRemovesThePartialFileItIsWriting() throws {
        let config = try GGUFModel.config(of: GGUFFile(path: model))
        let structure = directory + "/structure.json"
        try PruningStructure.identity(config).write(to: structure)
        let out = directory + "/out"
        let run = try runShrinking(MopProcess.binary, ["apply", model, "--structure", structure, "--out", out, "--format", "both"]) { _ in
            Self.files(under: out).contains { $0.contains(TemporaryFiles.marker) }
        }
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains(message), run.stderr)
        let left = Self.files(under: out)
        XCTAssertFalse(left.contains { $0.contains(TemporaryFiles.marker) || $0.hasSuffix(DirectoryLock.fileName) }, "left behind: \(left)")
    }

    func testEveryRankEndsUnderMPIWhenTheModelShrinks() throws {
        guard let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("mpirun is not installed")
        }
        let args = ["--allow-run-as-root", "--oversubscribe", "-x", "OPENBLAS_NUM_THREADS=1", "-np", "2", MopProcess.binary] + evalArgs
        let run = try runShrinking(mpirun, args) { $0.contains("perplexity: ") }
        XCTAssertNotEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains(message), run.stderr)
        XCTAssertFalse(run.stderr.contains("Backtrace") || run.stderr.contains("Crash"), run.stderr)
    }

    // MARK: - Helpers

    private var evalArgs: [String] {
        ["eval", model, "--ppl", RealInputs.sharedData + "/text/wikitext2-test.txt", "--max-tokens", "4096", "--seq-len", "256"]
    }

    private static func files(under root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
    }

    /// Runs `executable args`, truncates the model to `shrunk` bytes as soon as `ready(stderr so far)` holds (the
    /// model is then mapped and in use), and waits at most `bound` seconds after that for the process to end
    /// (killing it then: a hang is a failure).
    private func runShrinking(_ executable: String, _ args: [String], ready: @escaping (String) -> Bool) throws
        -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        // As MopProcess: a child must not join this test process's own MPI session.
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            key.hasPrefix("OMPI_ALLOW_RUN_AS_ROOT") || !(key.hasPrefix("OMPI_") || key.hasPrefix("PMIX_"))
        }.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let lock = NSLock()
        nonisolated(unsafe) var stdoutData = Data(), stderrData = Data()
        out.fileHandleForReading.readabilityHandler = { handle in let data = handle.availableData; lock.withLock { stdoutData += data } }
        err.fileHandleForReading.readabilityHandler = { handle in let data = handle.availableData; lock.withLock { stderrData += data } }
        try process.run()
        var truncatedAt: Date?
        let start = Date()
        while process.isRunning {
            if truncatedAt == nil, ready(lock.withLock { String(decoding: stderrData, as: UTF8.self) }) {
                XCTAssertEqual(truncate(model, off_t(shrunk)), 0)
                truncatedAt = Date()
            }
            let since = truncatedAt ?? start
            if Date().timeIntervalSince(since) > (truncatedAt == nil ? 300 : bound) {
                process.terminate()
                XCTFail("still running \(bound) s after the truncation (a hang)")
                break
            }
            usleep(5000)
        }
        process.waitUntilExit()
        // The last bytes: whatever the pipes still hold once the writers are gone.
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        let restOut = out.fileHandleForReading.readDataToEndOfFile(), restErr = err.fileHandleForReading.readDataToEndOfFile()
        let stderr = lock.withLock { String(decoding: stderrData + restErr, as: UTF8.self) }
        XCTAssertNotNil(truncatedAt, "the run ended before the model was truncated: \(stderr)")
        return (process.terminationStatus, lock.withLock { String(decoding: stdoutData + restOut, as: UTF8.self) }, stderr)
    }
}
