import ArgumentParser
import Foundation
import Shared
import Worker

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-train",
        abstract: "Throughput of one LoRA training step, against cblas_sgemm on the products that step made.",
        discussion: "One sequence, every position a target; forward, backward, LoRA gradients and AdamW, as mop finetune.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "Tokens in the sequence.") var seqLen = 512
    @Option(help: "Text whose first tokens form the sequence (default: token ids 0, 1, 2, ...).") var text: String?
    @Option(help: "LoRA rank.") var loraRank = 8
    @Option(help: "LoRA alpha.") var loraAlpha: Float = 16
    @Option(help: "LoRA dropout.") var loraDropout: Float = 0.05
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Timed steps; the best is kept.") var runs = 3
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        guard seqLen >= 2 else { throw ValidationError("--seq-len must be at least 2") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            let lora = LoRAConfig(rank: loraRank, alpha: loraAlpha, dropout: loraDropout)
            try lora.validate(for: ModelLoader.describe(path: model).config, file: model)
            try BenchmarkSequence.checkLength(seqLen, model: model)
            let loaded = try ModelLoader.load(path: model, storage: weightOptions.weights)
            let tokens = try BenchmarkSequence.tokens(loaded, model: model, text: text, length: seqLen)
            let result = try TrainingBenchmark.run(model: loaded.weights, tokens: tokens, lora: lora, runs: runs, file: model,
                                                   communicator: communicator)
            if json { return try RunSupport.printJSON(result) }
            RunSupport.printLine(String(format: "threads %ld  seq %ld  %.0f tokens/s  step %.2f s  %.1f GFLOP/step  train %.1f GFLOP/s  sgemm %.1f GFLOP/s  ratio %.2f  peak step memory %.0f MB",
                                        result.threads, result.tokens, result.tokensPerSecond, result.stepSeconds,
                                        result.gflopPerStep, result.stepGflops, result.sgemmGflops, result.ratio,
                                        Double(result.peakStepBytes) / 1e6))
        }
    }
}
