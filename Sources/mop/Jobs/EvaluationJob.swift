import Coordinator
import Foundation
import Shared

/// The chained evaluation of `mop prune --eval`: perplexity and zero-shot accuracy sharded over every rank, then
/// latency on rank 0 alone: the model files run in turn, run by run, each in its own child process, while the other
/// ranks sleep in a barrier so the cores are its own.
struct EvaluationJob {
    let options: EvaluationOptions
    let dedicatedCoordinator: Bool
    let threads: Int?
    /// How the latency children hold the weights (`--weights`).
    let weights: WeightStorage
    /// With pipeline stages (`--stages`): each rank holds its stage's part of every subject.
    var layout: PipelineLayout? = nil

    /// A model to evaluate: its weights on every rank (with `layout`, the rank's stage's part of them; `parts` says
    /// what each stage holds, by default the layout's parts), and on rank 0 the file or directory that holds it (for
    /// the latency child; nil: latency not measured).
    struct Subject {
        let name: String
        let weights: ModelWeights
        let path: String
        let benchPath: String?
        var parts: [ModelPart]? = nil
    }

    /// How the model at `path` stores its weights, as the export type that would write it ("GGUF q4_k_m").
    static func storage(of path: String) throws -> String {
        let format = try ModelLoader.format(of: ModelLoader.resolve(path))
        return (format == .gguf ? "GGUF " : "safetensors ") + (try ExportTypeChoice.matching(modelAt: path).type.rawValue)
    }

    /// Every rank calls this with the same subjects; the report comes back on rank 0.
    func run(_ subjects: [Subject], original: ModelConfig, tokenizer spec: TokenizerSpec,
             communicator: some Communicator) throws -> EvaluationReport? {
        let tasks = try options.tasks
        var models: [EvaluationReport.Model] = []
        for subject in subjects {
            if communicator.isCoordinator {
                FileHandle.standardError.write(Data("eval: \(subject.name) model\n".utf8))
            }
            let start = Date()
            let transformer = Transformer(weights: subject.weights)
            let perplexity = try PerplexityEvaluation.measure(
                transformer, tokenizer: spec, modelPath: subject.path, file: options.evalText, seqLen: options.evalSeqLen,
                maxTokens: options.evalMaxTokens, dedicatedCoordinator: dedicatedCoordinator, layout: layout,
                parts: subject.parts, communicator: communicator)
            let zeroShot = tasks.isEmpty ? nil : try TaskEvaluation.run(
                transformer, tokenizer: spec, modelPath: subject.path, tasks: tasks, directory: options.tasksDir,
                limit: options.evalLimit, dedicatedCoordinator: dedicatedCoordinator, layout: layout, parts: subject.parts,
                communicator: communicator)
            let parameters = subject.weights.config.parameters
            models.append(EvaluationReport.Model(
                name: subject.name, parameters: parameters, compression: 1 - Double(parameters) / Double(original.parameters),
                perplexity: perplexity?.perplexity, perplexityTokens: perplexity?.tokens, tasks: zeroShot?.tasks,
                latency: nil, seconds: Date().timeIntervalSince(start)))
            if communicator.isCoordinator, let line = models.last.map(Self.line) {
                FileHandle.standardError.write(Data(("eval: " + line + "\n").utf8))
            }
        }
        let timed = subjects.indices.filter { subjects[$0].benchPath != nil }
        if communicator.isCoordinator, let settings = options.bench, !timed.isEmpty {
            let outcome = try InterleavedBench.measure(timed.compactMap { subjects[$0].benchPath }, settings: settings,
                                                       threads: threads, weights: weights)
            for (position, index) in timed.enumerated() {
                models[index].latency = outcome.results[position]
                models[index].latencyVsFirst = position == 0 ? nil : outcome.ratios[position - 1]
                models[index].storage = try subjects[index].benchPath.map(Self.storage)
                FileHandle.standardError.write(Data(("eval: " + Self.line(models[index]) + "\n").utf8))
            }
        }
        communicator.idleBarrier()
        guard communicator.isCoordinator else { return nil }
        return EvaluationReport(perplexityFile: options.evalText, seqLen: options.evalSeqLen, maxTokens: options.evalMaxTokens,
                                taskLimit: options.evalLimit, models: models)
    }

    /// One model's numbers on one line (progress and the command's summary).
    static func line(_ model: EvaluationReport.Model) -> String {
        var parts = [model.name + ":"]
        if let perplexity = model.perplexity { parts.append(String(format: "perplexity %.2f", perplexity)) }
        if let acc = model.averageAcc, let accNorm = model.averageAccNorm {
            parts.append(String(format: "task average acc %.3f, acc_norm %.3f", acc, accNorm))
        }
        if let latency = model.latency {
            parts.append(String(format: "latency %.3f s, decode %.1f tokens/s", latency.latencySeconds, latency.decodeTokensPerSecond))
        }
        if let ratio = model.latencyVsFirst {
            parts.append(String(format: "(latency %.3f of the first's, median of %ld paired runs)", ratio.latencySeconds, ratio.pairs))
        }
        return parts.joined(separator: " ")
    }
}
