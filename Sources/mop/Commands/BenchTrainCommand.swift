import ArgumentParser
import Foundation
import Shared
import Worker

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-train",
        abstract: "Throughput of one LoRA training step, against cblas_sgemm on the products that step made.",
        discussion: "One sequence, every position a target, or the first Alpaca rows of --data as one batch; forward, backward, LoRA gradients and AdamW, as mop finetune.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "Tokens in the sequence.") var seqLen = 512
    @Option(help: "Text whose first tokens form the sequence (default: token ids 0, 1, 2, ...).") var text: String?
    @Option(help: "Alpaca JSONL: train on its first --rows examples as one batch (the loss on the responses) instead of one sequence.")
    var data: String?
    @Option(help: "With --data: the examples in the batch.") var rows = 4
    @Option(help: "With --data: the longest example, in tokens.") var maxLength = 512
    @Option(help: "LoRA rank.") var loraRank = 8
    @Option(help: "LoRA alpha.") var loraAlpha: Float = 16
    @Option(help: "LoRA dropout.") var loraDropout: Float = 0.05
    @Option(help: ArgumentHelp("Where the backward finds the blocks' activations, as in mop finetune.", valueName: "recompute|keep|auto"))
    var activationMemory: ActivationMemory = .recompute
    @Option(help: "Write the initial adapters (seed 0) here in PEFT's format, for a peer to start from.") var saveAdapters: String?
    @Option(help: "Write the batch's token ids and loss masks here as JSON ({\"tokens\": [[...]], \"loss_mask\": [[...]]}).")
    var saveBatch: String?
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Timed steps; the best is kept.") var runs = 3
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        guard seqLen >= 2 else { throw ValidationError("--seq-len must be at least 2") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2") }
    }

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            let lora = LoRAConfig(rank: loraRank, alpha: loraAlpha, dropout: loraDropout)
            let config = try ModelLoader.describe(path: model).config
            try lora.validate(for: config, file: model)
            if data == nil { try BenchmarkSequence.checkLength(seqLen, model: model) }
            let loaded = try ModelLoader.load(path: model, storage: weightOptions.weights)
            let examples: [InstructionExample]
            if let data {
                guard let spec = loaded.tokenizer else { throw MopError(file: model, "the model has no tokenizer to read --data with") }
                examples = try InstructionData.examples(path: data, tokenizer: spec.tokenizer(file: model),
                                                        maxLength: min(maxLength, config.maxPositions), limit: rows).examples
                guard examples.count == rows else { throw MopError(file: data, "holds \(examples.count) usable rows, fewer than --rows \(rows)") }
            } else {
                let tokens = try BenchmarkSequence.tokens(loaded, model: model, text: text, length: seqLen)
                examples = [InstructionExample(tokens: tokens, lossMask: tokens.indices.map { $0 > 0 })]
            }
            let adapters = LoRAAdapters(config: lora, model: config, seed: 0)
            if let saveAdapters { try PEFTAdapter.save(adapters, baseModel: model, to: saveAdapters) }
            if let saveBatch {
                let batch: [String: Any] = ["tokens": examples.map { $0.tokens.map { Int($0) } }, "loss_mask": examples.map(\.lossMask)]
                try AtomicFileWriter.write(try JSONSerialization.data(withJSONObject: batch) + Data("\n".utf8), to: saveBatch)
            }
            let result = try TrainingBenchmark.run(model: loaded.weights, examples: examples, adapters: adapters, runs: runs,
                                                   activations: activationMemory, file: model, communicator: communicator)
            if json { return try RunSupport.printJSON(result) }
            RunSupport.printLine(String(format: "threads %ld  tokens %ld  %.0f tokens/s  step %.2f s  %.1f GFLOP/step  train %.1f GFLOP/s  sgemm %.1f GFLOP/s  ratio %.2f  peak step memory %.0f MB  losses ",
                                        result.threads, result.tokens, result.tokensPerSecond, result.stepSeconds,
                                        result.gflopPerStep, result.stepGflops, result.sgemmGflops, result.ratio,
                                        Double(result.peakStepBytes) / 1e6)
                                 + result.losses.map { String(format: "%.6f", $0) }.joined(separator: " "))
        }
    }
}
