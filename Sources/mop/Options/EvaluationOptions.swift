import ArgumentParser
import Shared

/// What `mop prune --eval` measures on the dense, pruned and recovered models.
struct EvaluationOptions: ParsableArguments {
    @Option(help: "With --eval: text to measure perplexity on.") var evalText = "../shared/data/text/wikitext2-test.txt"
    @Option(help: "With --eval: tokens per perplexity window.") var evalSeqLen = 512
    @Option(help: "With --eval: use only the first N tokens of the text (default: all).") var evalMaxTokens: Int?
    @Option(help: "With --eval: zero-shot tasks, comma-separated ('none' for none).")
    var evalTasks = ZeroShotTask.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "With --eval: folder holding <task>.jsonl.") var tasksDir = TaskData.defaultDirectory
    @Option(help: "With --eval: use only the first N examples of each task (default: all).") var evalLimit: Int?
    @Option(help: "With --eval: latency runs per model, warm-up included (0: no latency).") var benchRuns = 20
    @Option(help: "With --eval: latency runs dropped as warm-up.") var benchWarmup = 10

    var tasks: [ZeroShotTask] {
        get throws {
            evalTasks == "none" ? [] : try evalTasks.split(separator: ",").map { try ZeroShotTask.named(String($0)) }
        }
    }

    /// The paper's latency protocol with these run counts; nil when latency is off.
    var bench: LatencyBenchmark.Settings? { benchRuns == 0 ? nil : LatencyBenchmark.Settings(runs: benchRuns, warmup: benchWarmup) }

    func validate() throws {
        guard evalSeqLen >= 2 else { throw ValidationError("--eval-seq-len must be at least 2") }
        if let evalMaxTokens, evalMaxTokens < 2 { throw ValidationError("--eval-max-tokens must be at least 2") }
        if let evalLimit, evalLimit < 1 { throw ValidationError("--eval-limit must be at least 1") }
        let names: [ZeroShotTask]
        do { names = try tasks } catch { throw ValidationError("--eval-tasks: \(error)") }
        guard Set(names).count == names.count else { throw ValidationError("--eval-tasks names a task twice") }
        guard benchRuns >= 0 else { throw ValidationError("--bench-runs must be 0 or more") }
        if let bench { do { try bench.validate() } catch { throw ValidationError("--bench-runs/--bench-warmup: \(error)") } }
    }
}
