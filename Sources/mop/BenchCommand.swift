import ArgumentParser
import Foundation
import Shared

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Generation latency (paper protocol): prefill and decode speed, peak memory; two models side by side.",
        discussion: """
            Batch 1, a fixed prompt, greedy decoding with the KV cache to exactly --new-tokens tokens (EOS does not \
            stop it), --runs runs of which the first --warmup are dropped; mean and median latency of the rest. \
            With --compare, each model is measured in its own child process of this binary, so each peak RSS \
            (VmHWM) is that model's alone and not the larger of the two.
            """)

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @Option(help: "A second model, measured the same way; ratios are compare / model.") var compare: String?
    @Option(help: "Runs, warm-up included.") var runs = 20
    @Option(help: "First runs dropped from the statistics.") var warmup = 10
    @Option(help: "Prompt tokens (the start of a fixed sentence, or ids 0, 1, ... without a tokenizer).") var promptTokens = 12
    @Option(help: "Tokens generated per run (greedy, never stopped early).") var newTokens = 128
    @Option(help: "BLAS threads (default: OpenBLAS's, OPENBLAS_NUM_THREADS).") var threads: Int?
    @Flag(help: "Print one JSON object on stdout.") var json = false
    /// Measure MODEL in this process and print its JSON: how the parent of a --compare run asks a child.
    @Flag(help: .hidden) var single = false

    /// compare / model for each number: a latency ratio below 1 means the second model is faster.
    struct Ratio: Encodable {
        let latencySeconds: Double
        let latencyMedianSeconds: Double
        let prefillTokensPerSecond: Double
        let decodeTokensPerSecond: Double
        let peakRssBytes: Double

        init(_ compare: LatencyBenchmark.Result, over model: LatencyBenchmark.Result) {
            latencySeconds = compare.latencySeconds / model.latencySeconds
            latencyMedianSeconds = compare.latencyMedianSeconds / model.latencyMedianSeconds
            prefillTokensPerSecond = compare.prefillTokensPerSecond / model.prefillTokensPerSecond
            decodeTokensPerSecond = compare.decodeTokensPerSecond / model.decodeTokensPerSecond
            peakRssBytes = Double(compare.peakRssBytes) / Double(model.peakRssBytes)
        }
    }

    struct Comparison: Encodable {
        let model: LatencyBenchmark.Result
        let compare: LatencyBenchmark.Result
        let ratio: Ratio
    }

    var settings: LatencyBenchmark.Settings {
        LatencyBenchmark.Settings(runs: runs, warmup: warmup, promptTokens: promptTokens, newTokens: newTokens)
    }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        RunSupport.run(threads: threads) { communicator in
            guard communicator.size == 1 else { throw MopError("bench measures one process; run it without mpirun") }
            try settings.validate()
            guard let compare, !single else {
                let result = try measureHere()
                return try json ? RunSupport.printJSON(result) : printTable([("model", model, result)], ratio: nil)
            }
            let first = try BenchChild.measure(model, settings: settings, threads: threads)
            let second = try BenchChild.measure(compare, settings: settings, threads: threads)
            let ratio = Ratio(second, over: first)
            if json { return try RunSupport.printJSON(Comparison(model: first, compare: second, ratio: ratio)) }
            printTable([("model", model, first), ("compare", compare, second)], ratio: ratio)
        }
    }

    func measureHere() throws -> LatencyBenchmark.Result {
        let loaded = try ModelLoader.load(path: model)
        let tokenizer = try loaded.tokenizer.map { try BPETokenizer($0, file: model) }
        let prompt = LatencyBenchmark.prompt(count: promptTokens, tokenizer: tokenizer,
                                             vocabSize: loaded.weights.config.vocabSize)
        let progress = ProgressReporter("bench \((model as NSString).lastPathComponent)", total: runs, unit: "runs")
        return try LatencyBenchmark.run(Transformer(weights: loaded.weights), prompt: prompt, settings: settings,
                                        file: model, progress: progress)
    }

    /// A metric per row, a model per column (and the ratio when comparing).
    func printTable(_ columns: [(role: String, path: String, result: LatencyBenchmark.Result)], ratio: Ratio?) {
        let rows: [(String, (LatencyBenchmark.Result) -> String, Double?)] = [
            ("latency mean (s)", { String(format: "%.4f", $0.latencySeconds) }, ratio?.latencySeconds),
            ("latency median (s)", { String(format: "%.4f", $0.latencyMedianSeconds) }, ratio?.latencyMedianSeconds),
            ("prefill tokens/s", { String(format: "%.1f", $0.prefillTokensPerSecond) }, ratio?.prefillTokensPerSecond),
            ("decode tokens/s", { String(format: "%.1f", $0.decodeTokensPerSecond) }, ratio?.decodeTokensPerSecond),
            ("peak RSS (MiB)", { String(format: "%.1f", Double($0.peakRssBytes) / 1_048_576) }, ratio?.peakRssBytes),
        ]
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        let names = columns.map { ($0.path as NSString).lastPathComponent }
        let width = max(14, names.map(\.count).max() ?? 0) + 2
        var header = pad("", 20) + names.map { pad($0, width) }.joined()
        if ratio != nil { header += "ratio" }
        var lines = [header]
        for (label, format, value) in rows {
            var line = pad(label, 20) + columns.map { pad(format($0.result), width) }.joined()
            if let value { line += String(format: "%.3f", value) }
            lines.append(line)
        }
        let first = columns[0].result
        lines.append(String(format: "%d runs (%d warm-up dropped), %d prompt + %d new tokens, %d threads",
                            first.runs, first.warmup, first.promptTokens, first.newTokens, first.threads))
        RunSupport.printLine(lines.joined(separator: "\n"))
    }
}
