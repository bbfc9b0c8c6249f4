import Foundation
import XCTest

/// Runs the package's own `mop` executable (built next to the test bundle), directly or under mpirun.
struct MopProcess {
    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
        }
    }

    /// The test runner is an executable in the build folder (.build/<triple>/<configuration>/), beside `mop`.
    static var binary: String {
        let folder = Bundle.main.executableURL?.deletingLastPathComponent() ?? Bundle.main.bundleURL
        return folder.appendingPathComponent("mop").path
    }

    /// `mop args...`, killed after `timeout` seconds (a hang is a failure, not a stuck CI).
    static func run(_ args: [String], timeout: TimeInterval = 300, environment: [String: String] = [:]) throws -> Output {
        try launch(binary, args, timeout: timeout, environment: environment)
    }

    /// `mpirun -np N mop args...` with one BLAS thread per rank.
    static func mpirun(ranks: Int, _ args: [String], timeout: TimeInterval = 300,
                       monitor: (@Sendable (Process) -> Void)? = nil) throws -> Output {
        try mpirun(programs: [(ranks, args)], timeout: timeout, monitor: monitor)
    }

    /// `mpirun -np N1 mop args1... : -np N2 mop args2...`: ranks given different command lines (MPMD), as nodes
    /// that see different files would run the same one.
    static func mpirun(programs: [(ranks: Int, args: [String])], timeout: TimeInterval = 300,
                       monitor: (@Sendable (Process) -> Void)? = nil) throws -> Output {
        let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let mpirun else { throw XCTSkip("mpirun is not installed (scripts/setup.sh installs it)") }
        let global = ["--allow-run-as-root", "--oversubscribe", "-x", "OPENBLAS_NUM_THREADS=1"]
        let apps = programs.map { ["-np", "\($0.ranks)", binary] + $0.args }.joined(separator: [":"])
        return try launch(mpirun, global + apps, timeout: timeout, environment: ["OPENBLAS_NUM_THREADS": "1"],
                          monitor: monitor)
    }

    /// A script of the package (cluster/..., scripts/...) run with bash.
    static func script(_ relativePath: String, _ args: [String], timeout: TimeInterval = 300,
                       environment: [String: String] = [:]) throws -> Output {
        try launch("/bin/bash", [RealInputs.packageRoot.appendingPathComponent(relativePath).path] + args,
                   timeout: timeout, environment: environment)
    }

    /// Runs `executable`; `monitor`, when given, runs on another thread while it does (to watch or kill its children).
    static func launch(_ executable: String, _ args: [String], timeout: TimeInterval,
                       environment: [String: String], monitor: (@Sendable (Process) -> Void)? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        // MPICommunicatorTests makes this test process an MPI singleton, which exports its session in OMPI_* and
        // PMIX_* variables; a child that inherits them tries to join that session instead of starting its own.
        let inherited = ProcessInfo.processInfo.environment.filter { key, _ in
            key.hasPrefix("OMPI_ALLOW_RUN_AS_ROOT") || !(key.hasPrefix("OMPI_") || key.hasPrefix("PMIX_"))
        }
        process.environment = inherited.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let killer = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        // Read both pipes before waiting, so a chatty child cannot fill a pipe and block.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdoutData = Data(), stderrData = Data()
        DispatchQueue.global().async(group: group) { stdoutData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { stderrData = err.fileHandleForReading.readDataToEndOfFile() }
        if let monitor { DispatchQueue.global().async(group: group) { monitor(process) } }
        group.wait()
        process.waitUntilExit()
        killer.cancel()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

/// Paths of the real inputs (SharedTests has the same rules): SmolLM2 (scripts/fetch-model.sh) and ../shared/data.
enum RealInputs {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var sharedData: String {
        ProcessInfo.processInfo.environment["MOP_SHARED_DATA"]
            ?? packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }

    /// The SmolLM2 GGUF; skipped when absent locally, a failure on CI (the test command fetches it).
    static func smolLM2() throws -> String {
        try model(environment: "MOP_SMOLLM2_GGUF", file: "SmolLM2-135M-Instruct.Q4_1.gguf", name: "SmolLM2")
    }

    /// Qwen2.5-Coder-0.5B-Instruct (`scripts/fetch-model.sh qwen2.5-0.5b`), the same way.
    static func qwen05() throws -> String {
        try model(environment: "MOP_QWEN05_GGUF", file: "Qwen2.5-Coder-0.5B-Instruct.gguf", name: "Qwen2.5-Coder-0.5B")
    }

    static func gemma3() throws -> String {
        try model(environment: "MOP_GEMMA3_GGUF", file: "gemma-3-270m-q4_k_m.gguf", name: "Gemma-3-270m")
    }

    private static func model(environment: String, file: String, name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment[environment] ?? packageRoot.appendingPathComponent("models/" + file).path
        if FileManager.default.fileExists(atPath: path) { return path }
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("\(name) missing at \(path)") }
        throw XCTSkip("\(name) not fetched (scripts/fetch-model.sh): \(path)")
    }
}
