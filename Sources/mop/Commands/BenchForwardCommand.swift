import ArgumentParser
import Foundation
import Shared

struct BenchForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-forward",
        abstract: "Prefill throughput of the scoring forward pass, against cblas_sgemm on the same products.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "Tokens in the sequence.") var seqLen = 512
    @Option(help: "Text whose first tokens form the sequence (default: token ids 0, 1, 2, ...).") var text: String?
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Timed runs; the best is kept.") var runs = 3
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        guard seqLen >= 1 else { throw ValidationError("--seq-len must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            guard communicator.size == 1 else { throw MopError("bench-forward measures one process; run it without mpirun") }
            try BenchmarkSequence.checkLength(seqLen, model: model)
            let loaded = try ModelLoader.load(path: model, storage: weightOptions.weights)
            let tokens = try BenchmarkSequence.tokens(loaded, model: model, text: text, length: seqLen)
            let result = ForwardBenchmark.run(Transformer(weights: loaded.weights), tokens: tokens, runs: runs)
            if json { return try RunSupport.printJSON(result) }
            RunSupport.printLine(String(format: "threads %ld  seq %ld  %.0f tokens/s  forward %.1f GFLOP/s  sgemm %.1f GFLOP/s  ratio %.2f",
                                        result.threads, result.tokens, result.tokensPerSecond, result.forwardGflops,
                                        result.sgemmGflops, result.ratio))
        }
    }
}
