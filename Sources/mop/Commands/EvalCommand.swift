import ArgumentParser
import Coordinator
import Foundation
import Shared
import Worker

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Perplexity on a text file and/or zero-shot task accuracy (work sharded over MPI ranks).")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @Option(help: "UTF-8 text file to measure perplexity on.") var ppl: String?
    @Option(help: "Tokens per window.") var seqLen = 512
    @Option(help: "Use only the first N tokens of the text.") var maxTokens: Int?
    @Option(help: "Zero-shot tasks, comma-separated (\(ZeroShotTask.allCases.map(\.rawValue).joined(separator: ", "))).")
    var tasks: String?
    @Option(help: "Folder holding <task>.jsonl.") var tasksDir = TaskData.defaultDirectory
    @Option(help: "Use only the first N examples of each task.") var limit: Int?
    @Option(help: "Zero-shot: tokens a request may take (default: the model's positions); longer ones lose tokens at the left, as lm-eval's max_length.")
    var maxLength: Int?
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Pipeline stages: the ranks form S stages x N/S replicas and each rank holds only its stage's blocks, for models larger than a node.")
    var stages = 1
    @Flag(help: "Print one JSON object on stdout.") var json = false
    @OptionGroup var cluster: ClusterOptions

    struct Report: Encodable {
        let model: String
        let ranks: Int
        let seconds: Double
        // Perplexity, with --ppl.
        let file: String?
        let perplexity: Double?
        let tokens: Int?
        let windows: Int?
        let seqLen: Int?
        let tokensPerSecond: Double?
        // Zero-shot, with --tasks.
        let tasks: [String: ZeroShotResult]?
        let average: ZeroShotMetrics.Average?
        /// How the weight matrices were held (`--weights`), and each rank's peak resident memory (VmHWM) in bytes.
        let weights: String
        let peakResidentBytes: [Int]
        /// With --stages.
        let pipeline: PipelineReport?
    }

    var taskList: [ZeroShotTask] {
        get throws { try (tasks ?? "").split(separator: ",").map { try ZeroShotTask.named(String($0)) } }
    }

    func validate() throws {
        guard ppl != nil || tasks != nil else { throw ValidationError("give --ppl FILE, --tasks a,b,... or both") }
        guard seqLen >= 2 else { throw ValidationError("--seq-len must be at least 2") }
        if let maxTokens, maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1") }
        guard stages >= 1 else { throw ValidationError("--stages must be at least 1") }
        if stages > 1 {
            guard !cluster.dedicatedCoordinator else { throw ValidationError("--stages and --dedicated-coordinator cannot be combined: every rank is a stage") }
        }
        if tasks != nil {
            let names: [ZeroShotTask]
            do { names = try taskList } catch { throw ValidationError("\(error)") }
            guard !names.isEmpty else { throw ValidationError("--tasks names no task") }
            guard Set(names).count == names.count else { throw ValidationError("--tasks names a task twice") }
        }
    }

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            if let ppl, communicator.isCoordinator { try RegularFile.check(ppl) }
            let layout = try cluster.layout(stages: stages, model: model, communicator)
            let loaded = try cluster.loadModel(model, communicator, layout: layout).model
            guard let spec = loaded.tokenizer else { throw MopError(file: model, "the model has no tokenizer") }
            let transformer = Transformer(weights: loaded.weights)
            let start = Date()
            let perplexity = try ppl.flatMap {
                try PerplexityEvaluation.measure(transformer, tokenizer: spec, modelPath: model, file: $0, seqLen: seqLen,
                                                 maxTokens: maxTokens, dedicatedCoordinator: cluster.dedicatedCoordinator,
                                                 layout: layout, communicator: communicator)
            }
            let zeroShot = tasks == nil ? nil : try TaskEvaluation.run(
                transformer, tokenizer: spec, modelPath: model, tasks: try taskList, directory: tasksDir, limit: limit, maxLength: maxLength,
                dedicatedCoordinator: cluster.dedicatedCoordinator, layout: layout, communicator: communicator)
            let peaks = communicator.gather([Double((try? ProcessMemory.peak()) ?? 0)], root: 0).map { Int($0[0]) }
            guard communicator.isCoordinator else { return }
            let report = Report(model: model, ranks: communicator.size, seconds: Date().timeIntervalSince(start),
                                file: ppl, perplexity: perplexity?.perplexity, tokens: perplexity?.tokens,
                                windows: perplexity?.windows, seqLen: perplexity.map { _ in seqLen },
                                tokensPerSecond: perplexity.map { Double($0.tokens) / $0.seconds },
                                tasks: zeroShot?.tasks, average: zeroShot?.average,
                                weights: cluster.weightOptions.weights.rawValue, peakResidentBytes: peaks,
                                pipeline: perplexity?.pipeline)
            if json { return try RunSupport.printJSON(report) }
            if let p = perplexity {
                RunSupport.printLine(String(format: "perplexity %.4f over %ld tokens (%ld windows of %ld) in %.1f s, %.0f tokens/s",
                                            p.perplexity, p.tokens, p.windows, seqLen, p.seconds, Double(p.tokens) / p.seconds))
            }
            if let zeroShot {
                for task in try taskList {
                    guard let r = zeroShot.tasks[task.rawValue] else { continue }
                    RunSupport.printLine(String(format: "%@: acc %.4f ± %.4f, acc_norm %.4f ± %.4f (n = %ld)",
                                                task.rawValue, r.acc, r.accStderr, r.accNorm, r.accNormStderr, r.n))
                }
                RunSupport.printLine(String(format: "average: acc %.4f, acc_norm %.4f",
                                            zeroShot.average.acc, zeroShot.average.accNorm))
            }
        }
    }
}
