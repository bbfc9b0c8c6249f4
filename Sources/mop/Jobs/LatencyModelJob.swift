import Coordinator
import Foundation
import Shared

/// The latency model of `mop prune --target-latency`: measured on rank 0 before the search, while the other ranks
/// sleep in a barrier so the cores are its own, and kept in DIR/latency-model.json, so a resumed search stops by the
/// same predictions it started with.
enum LatencyModelJob {
    /// Every rank calls this; rank 0 returns the model (read back when resuming; else `given`, a file of an earlier
    /// run on this machine; else measured) after writing it into `directory`, the others nil.
    static func prepare(_ weights: ModelWeights, tokenizer spec: TokenizerSpec, modelPath: String, directory: String,
                        resuming: Bool, given: String?, rounds: Int, communicator: some Communicator) throws -> LatencyModel? {
        defer { communicator.idleBarrier() }
        guard communicator.isCoordinator else { return nil }
        if resuming, let model = try LatencyModelFile.read(directory: directory) {
            try check(model, fits: weights.config, file: LatencyModelFile.path(in: directory))
            return model
        }
        if let given {
            let model = try LatencyModelFile.read(file: given)
            try check(model, fits: weights.config, file: given)
            try LatencyModelFile.write(model, directory: directory)
            return model
        }
        let settings = LatencyBenchmark.Settings()
        let prompt = LatencyBenchmark.prompt(count: settings.promptTokens, tokenizer: try spec.tokenizer(file: modelPath),
                                             vocabSize: weights.config.vocabSize)
        let probes = LatencyProbes.structures(weights.config).count
        FileHandle.standardError.write(Data(("prune: measuring the latency model: \(probes) probe shapes, \(rounds) "
            + "rounds of \(settings.promptTokens) prompt + \(settings.newTokens) new tokens each\n").utf8))
        let model = try LatencyProbes.measure(weights, prompt: prompt, settings: settings, rounds: rounds,
                                              progress: ProgressReporter("latency probes", total: rounds, unit: "rounds"))
        let worst = model.samples.map { abs($0.predictedSeconds / $0.seconds - 1) }.max() ?? 0
        FileHandle.standardError.write(Data(String(
            format: "prune: latency model: dense %.3f s per run, fitted to %ld probes within %.1f%%\n",
            model.seconds(weights.config), model.samples.count, worst * 100).utf8))
        try LatencyModelFile.write(model, directory: directory)
        return model
    }

    /// A latency model predicts only the model it was measured on: its dense probe must have this model's counts.
    static func check(_ model: LatencyModel, fits config: ModelConfig, file: String) throws {
        let dense = LatencyModel.Sample(name: "dense", shapes: config.layers, seconds: 0)
        func counts(_ sample: LatencyModel.Sample) -> String {
            "\(sample.blocks) blocks, \(sample.queryHeads) query heads, \(sample.kvHeads) KV heads, \(sample.neurons) neurons"
        }
        guard let first = model.samples.first,
              [first.blocks, first.queryHeads, first.kvHeads, first.neurons]
                == [dense.blocks, dense.queryHeads, dense.kvHeads, dense.neurons] else {
            throw MopError(file: file, "was measured on another model (\(model.samples.first.map(counts) ?? "no probes"); "
                           + "this model has \(counts(dense)))")
        }
    }
}
