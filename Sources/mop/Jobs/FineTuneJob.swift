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

    /// What `run` leaves on every rank: the merged model (with pipeline stages, the rank's stage's part of it), and on
    /// rank 0 the report.
    struct Outcome {
        let merged: ModelWeights
        let report: FineTuneReport?
    }

    /// Trains adapters for `weights` (named `model` in files and errors) on the Alpaca JSONL `data` and writes the
    /// results into `directory` (prepared by the caller). Every rank calls it and gets the merged model (the ranks'
    /// adapters are replicas); the report comes back on rank 0. With a pipeline `layout` of more than one stage,
    /// `weights` need only hold the rank's stage's part (pipelined training; `parts`: what each stage holds, by default
    /// the layout's parts), and each stage writes its part of the merged model (`StagedExport`).
    func run(weights: ModelWeights, tokenizer spec: TokenizerSpec, model: String, data: String, directory: String,
             communicator: any Communicator, layout: PipelineLayout? = nil, parts: [ModelPart]? = nil) throws -> Outcome {
        let staged = (layout?.stages ?? 1) > 1
        let stageParts = staged ? layout.map { parts ?? $0.parts(weights.config) } : nil
        let lora = options.lora
        try lora.validate(for: weights.config, file: model)
        // The tokenizer (tens of MB for a large vocabulary) is a temporary: nothing holds it through the training.
        let read = try InstructionData.examples(path: data, tokenizer: spec.tokenizer(file: model),
                                                maxLength: min(options.maxLength, weights.config.maxPositions))
        let (train, heldOut) = try InstructionData.split(read.examples, heldOutFraction: options.heldOut, seed: seed, file: data)
        let batch = options.batch
        let epochSteps = (Double(train.count) * (options.epochs ?? 1) / Double(batch)).rounded(.up)
        guard options.steps != nil || epochSteps <= 1e9 else {
            throw MopError(file: data, "--epochs \(options.epochs ?? 1) makes \(epochSteps) steps")
        }
        let totalSteps = options.steps ?? max(1, Int(epochSteps))
        let settings = FineTuneSettings(lora: lora, learningRate: options.lr, batchSize: batch, microBatch: options.microBatch,
                                        totalSteps: totalSteps, warmupSteps: options.warmup, seed: seed,
                                        activationMemory: options.activationMemory)
        let log = communicator.isCoordinator
        if log {
            FileHandle.standardError.write(Data(("finetune: \(train.count) training and \(heldOut.count) held-out examples"
                + (read.truncatedAway > 0 ? " (\(read.truncatedAway) left out: response past --max-length)" : "")
                + ", \(totalSteps) steps of \(batch) on \(communicator.size) ranks"
                + (layout.map { staged ? " (\($0.stages) pipeline stages x \($0.replicas) replicas)" : "" } ?? "") + "\n").utf8))
        }
        // The worker (the adapters' AdamW moments and gradients) lives in this scope only: gone before the export.
        let merged: ModelWeights, adapters: LoRAAdapters, before: Double?, after: Double?, pipeline: PipelineReport?
        var losses: [Double] = [], tokens = 0, seconds = 0.0
        do {
            var worker = try FineTuneWorker(model: weights, adapters: LoRAAdapters(config: lora, model: weights.config, seed: seed),
                                            settings: settings, file: model, communicator: communicator, layout: layout,
                                            part: layout.flatMap { layout in stageParts?[layout.stage(ofRank: communicator.rank)] })
            try worker.checkReplicas()
            before = try worker.evaluate(heldOut, progress: "finetune: held-out loss before (rank 0's shard)")
            let start = Date()
            let (secondsBefore, linkBefore) = (worker.seconds, worker.link)
            for step in 0..<totalSteps {
                let result = try worker.train(on: InstructionData.batch(train, step: step, batchSize: batch, seed: seed))
                losses.append(result.loss)
                tokens += result.tokens
                if log { progress(step: step + 1, of: totalSteps, loss: result.loss, tokens: tokens, start: start) }
            }
            seconds = Date().timeIntervalSince(start)
            // The training steps' pipeline figures (a collective), the held-out passes left out.
            if let layout, let stageParts, let link = worker.link, let part = worker.part {
                let measure = PipelineReport.RankMeasure(
                    seconds: worker.seconds - secondsBefore, waitSeconds: link.waitSeconds - (linkBefore?.waitSeconds ?? 0),
                    bytesSent: link.bytesSent - (linkBefore?.bytesSent ?? 0), weightsHeldBytes: part.bytesHeld(weights))
                pipeline = PipelineReport.gather(measure, layout: layout, parts: stageParts, communicator: communicator)
            } else {
                pipeline = nil
            }
            after = try worker.evaluate(heldOut, progress: "finetune: held-out loss after (rank 0's shard)")
            merged = worker.adapters.merged(into: weights)
            adapters = worker.wholeAdapters()
        }
        if log { FileHandle.standardError.write(Data("finetune: writing the adapter and the merged model to \(directory)\n".utf8)) }
        // Checked before the adapter is saved, so a refused export writes nothing.
        if let layout, let stageParts, staged {
            let parts = try export.staged(held: merged, parts: stageParts, layout: layout, tokenizer: spec, to: directory,
                                          communicator: communicator)
            if communicator.isCoordinator { try PEFTAdapter.save(adapters, baseModel: model, to: directory + "/adapter") }
            try export.write(parts, structure: .identity(merged.config), text: merged.config, to: directory,
                             communicator: communicator)
        }
        guard communicator.isCoordinator else { return Outcome(merged: merged, report: nil) }
        if !staged {
            try export.checkRange(merged, file: directory)
            try PEFTAdapter.save(adapters, baseModel: model, to: directory + "/adapter")
            try export.write(original: merged, structure: .identity(merged.config), tokenizer: spec, to: directory)
        }
        let report = FineTuneReport(model: model, data: data, ranks: communicator.size, trainExamples: train.count,
                                    heldOutExamples: heldOut.count, truncatedAway: read.truncatedAway, steps: totalSteps,
                                    batch: batch, microBatch: options.microBatch, losses: losses,
                                    heldOutLossBefore: before, heldOutLossAfter: after, tokens: tokens, seconds: seconds,
                                    pipeline: pipeline)
        try AtomicFileWriter.write(report.json() + Data("\n".utf8), to: directory + "/" + FineTuneReport.fileName)
        return Outcome(merged: merged, report: report)
    }

    /// One line per step on stderr: the step's loss, throughput so far and the time left at that pace.
    private func progress(step: Int, of total: Int, loss: Double, tokens: Int, start: Date) {
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(step) * Double(total - step)
        FileHandle.standardError.write(Data(String(format: "finetune: step %ld/%ld, loss %.4f, %.0f tokens/s, ETA %.1f s\n",
                                                   step, total, loss, Double(tokens) / max(elapsed, 1e-9), eta).utf8))
    }
}
