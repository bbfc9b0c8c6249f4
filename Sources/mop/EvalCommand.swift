import ArgumentParser
import Coordinator
import Foundation
import Shared
import Worker

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Perplexity of a model on a text file (windows sharded over MPI ranks).")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @Option(help: "UTF-8 text file to measure perplexity on.") var ppl: String
    @Option(help: "Tokens per window.") var seqLen = 512
    @Option(help: "Use only the first N tokens of the text.") var maxTokens: Int?
    @Option(help: "BLAS threads per rank (default: OpenBLAS's, OPENBLAS_NUM_THREADS).") var threads: Int?
    @Flag(help: "Print one JSON object on stdout.") var json = false

    struct Report: Encodable {
        let model: String
        let file: String
        let perplexity: Double
        let tokens: Int
        let windows: Int
        let seqLen: Int
        let seconds: Double
        let tokensPerSecond: Double
        let ranks: Int
    }

    func validate() throws {
        guard seqLen >= 2 else { throw ValidationError("--seq-len must be at least 2") }
        if let maxTokens, maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        RunSupport.run(threads: threads) { communicator in
            let loaded = try ModelLoader.load(path: model)
            guard let spec = loaded.tokenizer else { throw MopError(file: model, "the model has no tokenizer") }
            guard seqLen <= loaded.weights.config.maxPositions else {
                throw MopError(file: model, "--seq-len \(seqLen) is longer than the model's \(loaded.weights.config.maxPositions) positions")
            }
            let start = Date()
            // Rank 0 tokenizes and broadcasts, so every rank scores exactly the same ids.
            var tokens: [Int32] = []
            if communicator.isCoordinator {
                tokens = try BPETokenizer(spec, file: model).encode(try TextFile.read(ppl))
            }
            communicator.broadcast(&tokens, root: 0)
            let plan = PerplexityPlan(tokenCount: tokens.count, seqLen: seqLen, maxTokens: maxTokens)
            guard !plan.windows.isEmpty else { throw MopError(file: ppl, "the text has fewer than 2 tokens") }
            let shard = plan.shard(rank: communicator.rank, size: communicator.size)
            let progress = ProgressReporter("perplexity", total: shard.count, unit: "windows",
                                            enabled: communicator.isCoordinator)
            let sums = PerplexityWorker.score(Transformer(weights: loaded.weights), tokens: tokens, windows: shard,
                                              progress: progress.update)
            var packed = sums.packed
            communicator.reduceSum(&packed, root: 0)
            guard communicator.isCoordinator else { return }
            let total = PartialSums(packed: packed)
            let seconds = Date().timeIntervalSince(start)
            let report = Report(model: model, file: ppl,
                                perplexity: PerplexityPlan.perplexity(negativeLogLikelihood: total.negativeLogLikelihood,
                                                                      tokens: total.tokens),
                                tokens: Int(total.tokens) + plan.windows.count, windows: plan.windows.count,
                                seqLen: seqLen, seconds: seconds,
                                tokensPerSecond: Double(Int(total.tokens) + plan.windows.count) / seconds,
                                ranks: communicator.size)
            if json { return try RunSupport.printJSON(report) }
            RunSupport.printLine(String(format: "perplexity %.4f over %d tokens (%d windows of %d) in %.1f s, %.0f tokens/s",
                                        report.perplexity, report.tokens, report.windows, seqLen, seconds,
                                        report.tokensPerSecond))
        }
    }
}
