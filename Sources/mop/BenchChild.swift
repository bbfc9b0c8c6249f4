import Foundation
import Shared

/// A latency measurement in a child process of this binary (`mop bench PATH --single --json`), so the peak resident
/// memory it reports is that model's alone, not that of a process which also holds other models.
enum BenchChild {
    /// Runs `mop bench path --single --json` with the same settings and reads its result back. The child's stderr is
    /// passed on (progress); its error, if any, becomes this process's error.
    static func measure(_ path: String, settings: LatencyBenchmark.Settings, threads: Int?) throws -> LatencyBenchmark.Result {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var arguments = ["bench", path, "--single", "--json", "--runs", "\(settings.runs)", "--warmup", "\(settings.warmup)",
                         "--prompt-tokens", "\(settings.promptTokens)", "--new-tokens", "\(settings.newTokens)"]
        if let threads { arguments += ["--threads", "\(threads)"] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // The child is its own MPI singleton: it must not join the parent's MPI session.
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("OMPI_") && !key.hasPrefix("PMIX_")
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // stderr lines are passed on as they come (progress), all but the error line, which this process reports;
        // stdout is read to the end meanwhile, so neither pipe can fill and block the child.
        nonisolated(unsafe) var errorLine: String?
        let finished = DispatchSemaphore(value: 0)
        Thread {
            var pending = Data()
            while case let chunk = err.fileHandleForReading.availableData, !chunk.isEmpty {
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[..<newline]
                    pending = Data(pending[(newline + 1)...])
                    let text = String(decoding: line, as: UTF8.self)
                    if text.hasPrefix("mop: error: ") { errorLine = String(text.dropFirst("mop: error: ".count)) }
                    else { FileHandle.standardError.write(Data(text.utf8) + Data("\n".utf8)) }
                }
            }
            FileHandle.standardError.write(pending)
            finished.signal()
        }.start()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.wait()
        guard process.terminationStatus == 0 else {
            throw MopError(errorLine ?? "measuring \(path) failed (exit \(process.terminationStatus))")
        }
        do {
            return try JSONDecoder().decode(LatencyBenchmark.Result.self, from: output)
        } catch {
            throw MopError("the benchmark of \(path) printed no readable result: \(error)")
        }
    }
}
