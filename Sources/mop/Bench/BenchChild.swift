import Foundation
import Shared

/// One model held by a child process of this binary (`mop bench PATH --serve`), which measures one latency run per
/// request. Several children let models be timed in turn (A B A B ...) while each process's peak resident memory
/// stays its own model's. The conversation is lines: the child says `ready` once loaded; `run` is answered with one
/// JSON `Timing`; `end` with the JSON `ServeSummary`, after which the child exits.
/// Unchecked Sendable: the stderr thread writes `errorLine` only before leaving `stderrDone`, and the driver thread
/// reads it only after waiting for it.
final class BenchChild: @unchecked Sendable {
    let path: String
    private let process: Process
    private let requests: FileHandle
    private let replies: FileHandle
    private var pending = Data()
    /// The child's `mop: error:` line, set by the stderr thread; read after waiting for `stderrDone`.
    private var errorLine: String?
    private let stderrDone = DispatchGroup()

    /// What the child reports when asked to end: its VmHWM and BLAS threads.
    struct ServeSummary: Codable {
        let peakRssBytes: Int
        let threads: Int
        enum CodingKeys: String, CodingKey {
            case threads
            case peakRssBytes = "peak_rss_bytes"
        }
    }

    /// Starts `mop bench path --serve` with these settings, holding the weights as `weights` says; returns once the
    /// child has loaded the model.
    init(_ path: String, settings: LatencyBenchmark.Settings, threads: Int?, weights: WeightStorage) throws {
        self.path = path
        var arguments = ["bench", path, "--serve", "--runs", "\(settings.runs)", "--warmup", "\(settings.warmup)",
                         "--prompt-tokens", "\(settings.promptTokens)", "--new-tokens", "\(settings.newTokens)"]
        if let threads { arguments += ["--threads", "\(threads)"] }
        arguments += ["--weights", weights.rawValue]
        process = Process()
        // /proc/self/exe itself, not the path it links to: it is this very binary even when the file was replaced
        // (a rebuild or an upgrade during a long run), where the path would start another build or none.
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = arguments
        // The child is its own MPI singleton: it must not join the parent's MPI session.
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("OMPI_") && !key.hasPrefix("PMIX_")
        }
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        requests = input.fileHandleForWriting
        replies = output.fileHandleForReading
        // A child that died must surface as its error, not as SIGPIPE killing this process on the next request.
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        passOnStderr(error.fileHandleForReading)
        let greeting = try readLine()
        guard greeting == "ready" else { throw MopError(file: path, "the benchmark child said \"\(greeting)\", not ready") }
    }

    /// Measures one run (prefill and decode) in the child.
    func run() throws -> LatencyBenchmark.Timing {
        try send("run")
        return try decode(LatencyBenchmark.Timing.self, from: try readLine())
    }

    /// Ends the child and returns its peak resident memory and thread count.
    func finish() throws -> ServeSummary {
        try send("end")
        let summary = try decode(ServeSummary.self, from: try readLine())
        process.waitUntilExit()
        stderrDone.wait()
        return summary
    }

    /// Kills the child if it still runs (after another child failed).
    func stop() {
        if process.isRunning { process.terminate() }
    }

    private func send(_ request: String) throws {
        do {
            try requests.write(contentsOf: Data((request + "\n").utf8))
        } catch {
            throw try failure()
        }
    }

    /// The next line the child printed on stdout; end of output means the child ended, and its error is thrown.
    private func readLine() throws -> String {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending = Data(pending[(newline + 1)...])
                return line
            }
            let chunk = replies.availableData
            if chunk.isEmpty { throw try failure() }
            pending.append(chunk)
        }
    }

    /// The error of a child that stopped answering: its own `mop: error:` line, or its exit status.
    private func failure() throws -> MopError {
        process.waitUntilExit()
        stderrDone.wait()
        return MopError(errorLine ?? "measuring \(path) failed (exit \(process.terminationStatus))")
    }

    private func decode<T: Decodable>(_ type: T.Type, from line: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(line.utf8))
        } catch {
            throw MopError(file: path, "the benchmark child answered \"\(line.prefix(200))\": \(error)")
        }
    }

    /// Passes the child's stderr lines on as they come, all but its error line, which this process reports.
    private func passOnStderr(_ stderr: FileHandle) {
        stderrDone.enter()
        Thread { [self] in
            var buffered = Data()
            while case let chunk = stderr.availableData, !chunk.isEmpty {
                buffered.append(chunk)
                while let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                    let text = String(decoding: buffered[..<newline], as: UTF8.self)
                    buffered = Data(buffered[(newline + 1)...])
                    if text.hasPrefix("mop: error: ") { errorLine = String(text.dropFirst("mop: error: ".count)) }
                    else { FileHandle.standardError.write(Data((text + "\n").utf8)) }
                }
            }
            FileHandle.standardError.write(buffered)
            stderrDone.leave()
        }.start()
    }
}
