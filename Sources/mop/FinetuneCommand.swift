import ArgumentParser
import Coordinator
import Foundation
import Shared
import Worker

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "LoRA recovery fine-tuning on Alpaca-style instruction data; writes the adapter and the merged model.",
        discussion: "Every rank trains on its share of each batch; one allreduce of the gradients per step keeps the ranks identical.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @Option(help: "Alpaca JSONL (instruction, optional input, output).") var data: String
    @Option(help: "Output directory (created; must be new or empty).") var out: String
    @Option(help: "LoRA rank.") var loraRank = 8
    @Option(help: "LoRA alpha.") var loraAlpha: Float = 16
    @Option(help: "LoRA dropout.") var loraDropout: Float = 0.05
    @Option(help: "Peak learning rate (linear decay to 0).") var lr: Float = 3e-4
    @Option(help: "Passes over the training examples (default 1 unless --steps is given).") var epochs: Double?
    @Option(help: "Optimizer steps (instead of --epochs).") var steps: Int?
    @Option(help: "Examples per optimizer step over all ranks.") var batch = 16
    @Option(help: "Examples per forward/backward call on one rank.") var microBatch = 4
    @Option(help: "Longest training sequence, in tokens (at most the model's positions).") var maxLength = 512
    @Option(help: "Fraction of the examples held out to measure the loss before and after.") var heldOut = 0.05
    @Option(help: "Warm-up steps of the learning rate.") var warmup = 0
    @Option(help: "Seed of the adapters' initialisation, the split, the order and dropout.") var seed: UInt64 = 0
    @Option(help: "safetensors, gguf or both.") var format: ModelExport.Format = .both
    @Flag(help: "Write matrices as F16 instead of F32.") var f16 = false
    @Option(help: "BLAS threads per rank.") var threads: Int?
    @Flag(help: "Print one JSON object on stdout.") var json = false

    struct Report: Encodable {
        let model: String
        let data: String
        let ranks: Int
        let trainExamples: Int
        let heldOutExamples: Int
        let truncatedAway: Int
        let steps: Int
        let batch: Int
        let microBatch: Int
        let losses: [Double]
        let finalLoss: Double
        let heldOutLossBefore: Double?
        let heldOutLossAfter: Double?
        let tokens: Int
        let seconds: Double
        let tokensPerSecond: Double
    }

    func validate() throws {
        guard steps == nil || epochs == nil else { throw ValidationError("give --steps or --epochs, not both") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let epochs, !(epochs > 0) { throw ValidationError("--epochs must be positive") }
        guard batch >= 1, microBatch >= 1 else { throw ValidationError("--batch and --micro-batch must be at least 1") }
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2") }
        guard heldOut >= 0, heldOut < 1 else { throw ValidationError("--held-out must be in [0, 1)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        // Step s reads examples s*batch ..< (s+1)*batch of the epoch stream: that index must fit an Int.
        guard batch <= 1 << 20, (steps ?? 0).multipliedReportingOverflow(by: batch).overflow == false else {
            throw ValidationError("--steps x --batch is too large")
        }
    }

    func run() throws {
        RunSupport.run(threads: threads) { communicator in
            let lora = LoRAConfig(rank: loraRank, alpha: loraAlpha, dropout: loraDropout)
            try lora.validate(file: nil)
            let directory = try OutputDirectory.prepare(out, resuming: false, create: communicator.isCoordinator)
            let loaded = try ModelLoader.load(path: model)
            guard let spec = loaded.tokenizer else { throw MopError(file: model, "the model has no tokenizer") }
            let tokenizer = try BPETokenizer(spec, file: model)
            let read = try InstructionData.examples(path: data, tokenizer: tokenizer, maxLength: min(maxLength, loaded.weights.config.maxPositions))
            let (train, heldOutSet) = try InstructionData.split(read.examples, heldOutFraction: heldOut, seed: seed, file: data)
            let epochSteps = (Double(train.count) * (epochs ?? 1) / Double(batch)).rounded(.up)
            guard steps != nil || epochSteps <= 1e9 else { throw MopError(file: data, "--epochs \(epochs ?? 1) makes \(epochSteps) steps") }
            let totalSteps = steps ?? max(1, Int(epochSteps))
            let settings = FineTuneSettings(lora: lora, learningRate: lr, batchSize: batch, microBatch: microBatch,
                                            totalSteps: totalSteps, warmupSteps: warmup, seed: seed)
            var worker = try FineTuneWorker(model: loaded.weights,
                                            adapters: LoRAAdapters(config: lora, model: loaded.weights.config, seed: seed),
                                            settings: settings, communicator: communicator)
            try worker.checkReplicas()
            let log = communicator.isCoordinator
            if log {
                FileHandle.standardError.write(Data(("finetune: \(train.count) training and \(heldOutSet.count) held-out examples"
                    + (read.truncatedAway > 0 ? " (\(read.truncatedAway) left out: response past --max-length)" : "")
                    + ", \(totalSteps) steps of \(batch) on \(communicator.size) ranks\n").utf8))
            }
            let before = try worker.evaluate(heldOutSet)
            let start = Date()
            var losses: [Double] = [], tokens = 0
            for step in 0..<totalSteps {
                let result = try worker.train(on: InstructionData.batch(train, step: step, batchSize: batch, seed: seed))
                losses.append(result.loss)
                tokens += result.tokens
                if log { progress(step: step + 1, of: totalSteps, loss: result.loss, tokens: tokens, start: start) }
            }
            let seconds = Date().timeIntervalSince(start)
            let after = try worker.evaluate(heldOutSet)
            guard communicator.isCoordinator else { return }

            try PEFTAdapter.save(worker.adapters, baseModel: model, to: directory + "/adapter")
            let merged = worker.adapters.merged(into: loaded.weights)
            try ModelExport.write(original: merged, structure: .identity(merged.config), tokenizer: spec, to: directory,
                                  format: format, ggufType: f16 ? .f16 : .f32)
            let report = Report(model: model, data: data, ranks: communicator.size, trainExamples: train.count,
                                heldOutExamples: heldOutSet.count, truncatedAway: read.truncatedAway, steps: totalSteps,
                                batch: batch, microBatch: microBatch, losses: losses, finalLoss: losses.last ?? .nan,
                                heldOutLossBefore: before, heldOutLossAfter: after, tokens: tokens, seconds: seconds,
                                tokensPerSecond: Double(tokens) / max(seconds, 1e-9))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let writer = try AtomicFileWriter(path: directory + "/finetune.json")
            try writer.append(try encoder.encode(report) + Data("\n".utf8))
            try writer.commit()
            if json { return try RunSupport.printJSON(report) }
            RunSupport.printLine(String(format: "fine-tuned %d steps: final loss %.4f, held-out loss %@ -> %@, %.0f tokens/s; wrote %@",
                                        totalSteps, losses.last ?? .nan, before.map { String(format: "%.4f", $0) } ?? "-",
                                        after.map { String(format: "%.4f", $0) } ?? "-", Double(tokens) / max(seconds, 1e-9), directory))
        }
    }

    /// One line per step on stderr: the step's loss, throughput so far and the time left at that pace.
    private func progress(step: Int, of total: Int, loss: Double, tokens: Int, start: Date) {
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(step) * Double(total - step)
        FileHandle.standardError.write(Data(String(format: "finetune: step %d/%d, loss %.4f, %.0f tokens/s, ETA %.1f s\n",
                                                   step, total, loss, Double(tokens) / max(elapsed, 1e-9), eta).utf8))
    }
}
