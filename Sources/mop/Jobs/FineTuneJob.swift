import Coordinator
import Foundation
import Shared
import Worker

/// A LoRA recovery run on every rank, as `mop finetune` and `mop prune --finetune` make it: the Alpaca data split,
/// the held-out loss before and after, one data-parallel step per batch with a progress line, then on rank 0 the
/// PEFT adapter (`adapter/`), the merged model (`hf/`, `model.gguf`) and `finetune.json` in the output directory.
struct FineTuneJob {
    let options: FineTuneOptions
    /// Seeds the adapters' initialisation, the split, the order and dropout.
    let seed: UInt64
    /// How the merged model is written (`--format`, the export type chosen for the job's input).
    let export: ResolvedExport

    /// What `run` leaves on every rank: the trained adapters on their base, and on rank 0 the report.
    struct Outcome {
        let base: ModelWeights
        let adapters: LoRAAdapters
        let report: FineTuneReport?

        /// The merged model, made when asked for (the export adds the adapters as it writes and never holds it).
        var merged: ModelWeights { adapters.merged(into: base) }
    }

    /// Trains adapters for `weights` (named `model` in files and errors) on the Alpaca JSONL `data` and writes the
    /// results into `directory` (prepared by the caller). Every rank calls it and gets the merged model (the ranks'
    /// adapters are replicas); the report comes back on rank 0.
    func run(weights: ModelWeights, tokenizer spec: TokenizerSpec, model: String, data: String, directory: String,
             communicator: any Communicator) throws -> Outcome {
        let lora = options.lora
        try lora.validate(for: weights.config, file: model)
        let tokenizer = try spec.tokenizer(file: model)
        let read = try InstructionData.examples(path: data, tokenizer: tokenizer,
                                                maxLength: min(options.maxLength, weights.config.maxPositions))
        let (train, heldOut) = try InstructionData.split(read.examples, heldOutFraction: options.heldOut, seed: seed, file: data)
        let batch = options.batch
        let epochSteps = (Double(train.count) * (options.epochs ?? 1) / Double(batch)).rounded(.up)
        guard options.steps != nil || epochSteps <= 1e9 else {
            throw MopError(file: data, "--epochs \(options.epochs ?? 1) makes \(epochSteps) steps")
        }
        let totalSteps = options.steps ?? max(1, Int(epochSteps))
        let settings = FineTuneSettings(lora: lora, learningRate: options.lr, batchSize: batch, microBatch: options.microBatch,
                                        totalSteps: totalSteps, warmupSteps: options.warmup, seed: seed)
        var worker = try FineTuneWorker(model: weights, adapters: LoRAAdapters(config: lora, model: weights.config, seed: seed),
                                        settings: settings, file: model, communicator: communicator)
        try worker.checkReplicas()
        let log = communicator.isCoordinator
        if log {
            FileHandle.standardError.write(Data(("finetune: \(train.count) training and \(heldOut.count) held-out examples"
                + (read.truncatedAway > 0 ? " (\(read.truncatedAway) left out: response past --max-length)" : "")
                + ", \(totalSteps) steps of \(batch) on \(communicator.size) ranks\n").utf8))
        }
        let before = try worker.evaluate(heldOut, progress: "finetune: held-out loss before (rank 0's shard)")
        let start = Date()
        var losses: [Double] = [], tokens = 0
        for step in 0..<totalSteps {
            let result = try worker.train(on: InstructionData.batch(train, step: step, batchSize: batch, seed: seed))
            losses.append(result.loss)
            tokens += result.tokens
            if log { progress(step: step + 1, of: totalSteps, loss: result.loss, tokens: tokens, start: start) }
        }
        let seconds = Date().timeIntervalSince(start)
        let after = try worker.evaluate(heldOut, progress: "finetune: held-out loss after (rank 0's shard)")
        guard communicator.isCoordinator else { return Outcome(base: weights, adapters: worker.adapters, report: nil) }

        let updates = worker.adapters.updates()
        try export.checkRange(weights, file: directory, updates: updates)  // before the adapter, so a refused export writes nothing
        try PEFTAdapter.save(worker.adapters, baseModel: model, to: directory + "/adapter")
        try export.write(original: weights, structure: .identity(weights.config), tokenizer: spec, to: directory, updates: updates)
        let report = FineTuneReport(model: model, data: data, ranks: communicator.size, trainExamples: train.count,
                                    heldOutExamples: heldOut.count, truncatedAway: read.truncatedAway, steps: totalSteps,
                                    batch: batch, microBatch: options.microBatch, losses: losses,
                                    heldOutLossBefore: before, heldOutLossAfter: after, tokens: tokens, seconds: seconds)
        try AtomicFileWriter.write(report.json() + Data("\n".utf8), to: directory + "/" + FineTuneReport.fileName)
        return Outcome(base: weights, adapters: worker.adapters, report: report)
    }

    /// One line per step on stderr: the step's loss, throughput so far and the time left at that pace.
    private func progress(step: Int, of total: Int, loss: Double, tokens: Int, start: Date) {
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(step) * Double(total - step)
        FileHandle.standardError.write(Data(String(format: "finetune: step %ld/%ld, loss %.4f, %.0f tokens/s, ETA %.1f s\n",
                                                   step, total, loss, Double(tokens) / max(elapsed, 1e-9), eta).utf8))
    }
}
