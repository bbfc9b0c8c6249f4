import ArgumentParser
import Foundation
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// `mop fuzz PARSER` (hidden): a seeded mutation loop over one parser's entry point (scripts/fuzz.sh runs them all).
/// A trap (overflow, huge allocation under the memory cap) kills the process after the input is saved as
/// `crash-PARSER`; an input that runs longer than --timeout is saved as `timeout-PARSER` and ends the run with exit 3.
/// Inputs whose error message is new join the corpus, a cheap stand-in for coverage that leads the loop deeper.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fuzz", abstract: "Fuzz one parser (for scripts/fuzz.sh).",
                                                    shouldDisplay: false)

    @Argument(help: "gguf, safetensors, config, tokenizer, jsonl, structure, checkpoint, hfside, latency or pairing.") var parser: String
    @Option(help: "Seconds to run.") var seconds: Double = 10
    @Option(help: "Stop after this many executions.") var runs: Int?
    @Option(help: "Seed of the mutation sequence.") var seed: UInt64 = 1
    @Option(help: "Seconds one input may take before it counts as a timeout.") var timeout: Double = 2
    @Option(help: "Cap on the process's data memory, MB: a larger allocation fails and counts as a crash.") var memoryLimit = 2048
    @Option(help: "The real GGUF whose header, vocabulary and config seed the corpora.") var model: String?
    @Option(help: "The shared data folder (JSONL seeds).") var data: String?
    @Option(help: "Folder for crash and timeout inputs.") var out = "."

    func run() throws {
        guard let target = FuzzTarget(rawValue: parser) else {
            throw ValidationError("unknown parser \(parser) (\(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        // Parsers that read a path get their input through a file: in memory (/dev/shm) when there is one.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        let scratch = base + "mop-fuzz-\(parser)-\(getpid())"
        try DirectoryCreation.create(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let corpus = try target.seeds(model: model, data: data, scratch: scratch)
        guard !corpus.isEmpty else { throw MopError("no seeds for \(parser): give --model or --data") }
        // A seed that fails keeps the loop at the surface of the parser: say so.
        for (index, seed) in corpus.enumerated() {
            do { try target.run(seed, scratch: scratch) } catch {
                FileHandle.standardError.write(Data("fuzz \(parser): seed \(index) fails: \(error)\n".utf8))
            }
        }

        var limit = rlimit(rlim_cur: rlim_t(memoryLimit) << 20, rlim_max: rlim_t(memoryLimit) << 20)
        setrlimit(Int32(RLIMIT_DATA.rawValue), &limit)
        FuzzWatchdog.start(crashFile: "\(out)/crash-\(parser)", timeoutFile: "\(out)/timeout-\(parser)", timeout: timeout)

        var mutator = FuzzMutator(seed: seed, maxLength: 4 * (corpus.map(\.count).max() ?? 0) + 4096)
        var inputs = corpus, messages = Set<String>(), executions = 0, slowest = 0.0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds, runs.map({ executions < $0 }) ?? true {
            let input = mutator.mutate(inputs[mutator.below(inputs.count)], other: inputs[mutator.below(inputs.count)])
            FuzzWatchdog.begin(input)
            let began = Date()
            do { try target.run(input, scratch: scratch) } catch {
                // The problem without numbers, so "offset 12" and "offset 13" count as one message.
                let shape = String("\(error)".filter { !$0.isNumber }.prefix(120))
                if messages.insert(shape).inserted, inputs.count < 4096 { inputs.append(input) }
            }
            slowest = max(slowest, Date().timeIntervalSince(began))
            FuzzWatchdog.end()
            executions += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let peak = (try? ProcessMemory.peak()) ?? 0
        RunSupport.printLine(String(format: "fuzz %@: %ld executions in %.0f s (%.0f/s), 0 crashes, 0 timeouts, slowest input %.3f s, peak memory (VmHWM) %.0f MB, %ld distinct errors, corpus %ld",
                                    parser, executions, elapsed, Double(executions) / max(elapsed, 1e-9), slowest,
                                    Double(peak) / 1e6, messages.count, inputs.count))
    }
}
