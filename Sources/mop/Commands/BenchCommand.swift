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
            With --compare, the two models run in turn, run by run (A B A B ..., warm-up runs too), each in its \
            own child process of this binary (so each peak RSS, VmHWM, is that model's alone), so a change of load \
            hits both alike; the ratio is the median over the paired runs of compare / model, with its spread.
            """)

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "A second model, measured in turn with the first; ratios are compare / model.") var compare: String?
    @Option(help: "Runs, warm-up included.") var runs = 20
    @Option(help: "First runs dropped from the statistics.") var warmup = 10
    @Option(help: "Prompt tokens (the start of a fixed sentence, or ids 0, 1, ... without a tokenizer).") var promptTokens = 12
    @Option(help: "Tokens generated per run (greedy, never stopped early).") var newTokens = 128
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object on stdout.") var json = false
    /// Hold MODEL and measure one run per `run` line on stdin: how the parent of a --compare run drives a child.
    @Flag(help: .hidden) var serve = false

    struct Comparison: Encodable {
        let model: LatencyBenchmark.Result
        let compare: LatencyBenchmark.Result
        let ratio: LatencyRatio
        /// Every run in the order it ran (model 0, compare 1), warm-up included.
        let schedule: [InterleavedLatency.Run]
    }

    var settings: LatencyBenchmark.Settings {
        LatencyBenchmark.Settings(runs: runs, warmup: warmup, promptTokens: promptTokens, newTokens: newTokens)
    }

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            guard communicator.size == 1 else { throw MopError("bench measures one process; run it without mpirun") }
            try settings.validate()
            if serve { return try serveRuns() }
            guard let compare else {
                let result = try measureHere()
                return try json ? RunSupport.printJSON(result) : printTable([("model", model, result)], ratio: nil)
            }
            let outcome = try InterleavedBench.measure([model, compare], settings: settings, threads: threadOptions.threads,
                                                       weights: weightOptions.weights)
            let (first, second, ratio) = (outcome.results[0], outcome.results[1], outcome.ratios[0])
            if json { return try RunSupport.printJSON(Comparison(model: first, compare: second, ratio: ratio, schedule: outcome.runs)) }
            printTable([("model", model, first), ("compare", compare, second)], ratio: ratio)
        }
    }

    /// The model, ready to time, and the prompt every run starts from.
    func loadGenerator() throws -> (Generator, [Int32]) {
        let loaded = try ModelLoader.load(path: model, storage: weightOptions.weights)
        let tokenizer = try loaded.tokenizer.map { try $0.tokenizer(file: model) }
        let prompt = LatencyBenchmark.prompt(count: promptTokens, tokenizer: tokenizer,
                                             vocabSize: loaded.weights.config.vocabSize)
        return (Generator(model: Transformer(weights: loaded.weights)), prompt)
    }

    func measureHere() throws -> LatencyBenchmark.Result {
        let (generator, prompt) = try loadGenerator()
        let progress = ProgressReporter("bench \((model as NSString).lastPathComponent)", total: runs, unit: "runs")
        return try LatencyBenchmark.run(generator.model, prompt: prompt, settings: settings, file: model, progress: progress)
    }

    /// The child side of BenchChild: `ready` once loaded, a JSON timing per `run`, the summary at `end`.
    func serveRuns() throws {
        let (generator, prompt) = try loadGenerator()
        try LatencyBenchmark.checkFits(generator.model, prompt: prompt, settings: settings, file: model)
        func reply(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        func replyJSON(_ value: some Encodable) throws { reply(String(decoding: try JSONEncoder().encode(value), as: UTF8.self)) }
        reply("ready")
        while let request = readLine() {
            switch request {
            case "run": try replyJSON(LatencyBenchmark.measure(generator, prompt: prompt, newTokens: newTokens))
            case "end": return try replyJSON(BenchChild.ServeSummary(peakRssBytes: try LatencyBenchmark.peakRSS(), threads: BLAS.threads))
            default: throw MopError("bench --serve: unknown request \"\(request.prefix(40))\"")
            }
        }
    }

    /// A metric per row, a model per column (and the ratio when comparing: the paired runs' median).
    func printTable(_ columns: [(role: String, path: String, result: LatencyBenchmark.Result)], ratio: LatencyRatio?) {
        let rows: [(String, (LatencyBenchmark.Result) -> String, Double?)] = [
            ("latency mean (s)", { String(format: "%.4f", $0.latencySeconds) }, nil),
            ("latency median (s)", { String(format: "%.4f", $0.latencyMedianSeconds) }, ratio?.latencySeconds),
            ("latency min-max (s)", { String(format: "%.3f-%.3f", $0.latencyMinSeconds, $0.latencyMaxSeconds) }, nil),
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
        lines.append(String(format: "%ld runs (%ld warm-up dropped), %ld prompt + %ld new tokens, %ld threads, OpenBLAS kernel %@, mop kernels %@",
                            first.runs, first.warmup, first.promptTokens, first.newTokens, first.threads, first.blasKernel,
                            first.kernelIsa ?? "unknown"))
        if let ratio {
            lines.append(String(format: "ratio: compare / model, the median over %ld paired runs, run in turn (A B A B ...); "
                                + "latency %.3f (%.3f-%.3f over the pairs)", ratio.pairs, ratio.latencySeconds,
                                ratio.latencySecondsMin, ratio.latencySecondsMax))
        }
        RunSupport.printLine(lines.joined(separator: "\n"))
    }
}
