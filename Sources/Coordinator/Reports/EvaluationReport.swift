import Foundation
import Shared

/// The three numbers users judge a pruned model by, for each model of a chained run side by side: the dense
/// original, the pruned model and the recovered (fine-tuned) one. The `evaluation` section of report.json.
public struct EvaluationReport: Codable, Equatable, Sendable {
    /// The text perplexity is measured on, its window length and token limit (nil: the whole text).
    public var perplexityFile: String?
    public var seqLen: Int
    public var maxTokens: Int?
    /// Examples per task (nil: the whole validation set).
    public var taskLimit: Int?
    public var models: [Model]

    public struct Model: Codable, Equatable, Sendable {
        /// dense, pruned or recovered.
        public var name: String
        public var parameters: Int
        public var compression: Double
        public var perplexity: Double?
        public var perplexityTokens: Int?
        public var tasks: [String: ZeroShotResult]?
        /// Means of acc and acc_norm over the tasks.
        public var averageAcc: Double?
        public var averageAccNorm: Double?
        /// nil when not measured; the recovered model has the pruned model's shape and so its latency.
        public var latency: LatencyBenchmark.Result?
        /// This model's latency against the first measured model's, from runs taken in turn (nil for the first).
        public var latencyVsFirst: LatencyRatio?
        /// Wall time of this model's evaluation.
        public var seconds: Double
        /// How the file whose latency was measured stores the weights ("GGUF q4_1", "safetensors f16"); nil when not timed.
        public var storage: String?

        enum CodingKeys: String, CodingKey {
            case name, parameters, compression, perplexity, tasks, latency, seconds, storage
            case perplexityTokens = "perplexity_tokens"
            case latencyVsFirst = "latency_vs_first"
            case averageAcc = "average_acc"
            case averageAccNorm = "average_acc_norm"
        }

        public init(name: String, parameters: Int, compression: Double, perplexity: Double?, perplexityTokens: Int?,
                    tasks: [String: ZeroShotResult]?, latency: LatencyBenchmark.Result?, latencyVsFirst: LatencyRatio? = nil,
                    seconds: Double) {
            self.name = name
            self.parameters = parameters
            self.compression = compression
            self.perplexity = perplexity
            self.perplexityTokens = perplexityTokens
            self.tasks = tasks
            let average = tasks.flatMap { ZeroShotMetrics.average($0.values) }
            averageAcc = average?.acc
            averageAccNorm = average?.accNorm
            self.latency = latency
            self.latencyVsFirst = latencyVsFirst
            self.seconds = seconds
        }
    }

    enum CodingKeys: String, CodingKey {
        case models
        case perplexityFile = "perplexity_file"
        case seqLen = "seq_len"
        case maxTokens = "max_tokens"
        case taskLimit = "task_limit"
    }

    public init(perplexityFile: String?, seqLen: Int, maxTokens: Int?, taskLimit: Int?, models: [Model]) {
        self.perplexityFile = perplexityFile
        self.seqLen = seqLen
        self.maxTokens = maxTokens
        self.taskLimit = taskLimit
        self.models = models
    }

    public static let perplexityPlotName = "perplexity.svg"

    /// The side-by-side table of report.md: a metric per row, a model per column.
    public func markdown() -> [String] {
        func cell(_ model: Model, _ value: (Model) -> String?) -> String { value(model) ?? "-" }
        var rows: [(String, (Model) -> String?)] = [
            ("parameters", { "\($0.parameters)" }),
            ("compression", { String(format: "%.2f%%", $0.compression * 100) }),
            ("perplexity", { $0.perplexity.map { String(format: "%.2f", $0) } }),
        ]
        let taskNames = Set(models.flatMap { $0.tasks.map { Array($0.keys) } ?? [] }).sorted()
        for task in taskNames {
            rows.append(("\(task) acc / acc_norm", { model in
                model.tasks?[task].map { String(format: "%.3f / %.3f", $0.acc, $0.accNorm) }
            }))
        }
        if !taskNames.isEmpty {
            rows.append(("average acc / acc_norm", { model in
                model.averageAcc.map { String(format: "%.3f / %.3f", $0, model.averageAccNorm ?? .nan) }
            }))
        }
        let firstTimed = models.first { $0.latency != nil }
        let dense = firstTimed?.latency
        rows += [
            ("latency measured on", { $0.storage }),
            ("latency mean (s)", { $0.latency.map { String(format: "%.3f", $0.latencySeconds) } }),
            ("latency vs first", { model in
                if let ratio = model.latencyVsFirst {
                    return String(format: "%.3f (%.3f-%.3f)", ratio.latencySeconds, ratio.latencySecondsMin, ratio.latencySecondsMax)
                }
                return model.latency != nil && model.name == firstTimed?.name ? "1.000" : nil
            }),
            ("prefill tokens/s", { $0.latency.map { String(format: "%.1f", $0.prefillTokensPerSecond) } }),
            ("decode tokens/s", { $0.latency.map { String(format: "%.1f", $0.decodeTokensPerSecond) } }),
            ("peak RSS (MiB)", { $0.latency.map { String(format: "%.0f", Double($0.peakRssBytes) / 1_048_576) } }),
            ("evaluation time (s)", { String(format: "%.0f", $0.seconds) }),
        ]
        var lines = ["| | " + models.map(\.name).joined(separator: " | ") + " |",
                     "|---|" + String(repeating: "---:|", count: models.count)]
        for (label, value) in rows { lines.append("| \(label) | " + models.map { cell($0, value) }.joined(separator: " | ") + " |") }
        var notes: [String] = []
        if let perplexityFile {
            notes.append("perplexity: \((perplexityFile as NSString).lastPathComponent), windows of \(seqLen) tokens, "
                + (maxTokens.map { "first \($0) tokens" } ?? "all tokens"))
        }
        if !taskNames.isEmpty { notes.append("zero-shot: " + (taskLimit.map { "first \($0) examples of each task" } ?? "whole validation sets")) }
        if let latency = dense {
            notes.append("latency: batch 1, \(latency.promptTokens)-token prompt, \(latency.newTokens) new tokens, "
                + "\(latency.runs) runs of which \(latency.warmup) warm-up, \(latency.threads) threads; the models ran in "
                + "turn, run by run (A B A B ...), each in its own process, and 'vs first' is the median of the paired "
                + "runs' latency ratios (their min-max in brackets)")
        }
        let storages = Set(models.compactMap(\.storage))
        if storages.count > 1 {
            notes.append("the timed models are stored differently (\(storages.sorted().joined(separator: ", "))), so their latency "
                + "ratio mixes pruning with the element types: compare models stored alike (--export-type)")
        }
        if models.contains(where: { $0.name == "recovered" && $0.latency == nil }) {
            notes.append("the recovered model has the pruned model's shape, so its latency")
        }
        return lines + (notes.isEmpty ? [] : ["", notes.joined(separator: "; ") + "."])
    }

    /// Perplexity against compression: the calibration perplexity exp(loss) of every step of the path, and the
    /// evaluation text's perplexity of each evaluated model, on a log axis.
    public func perplexityChart(path iterations: [SearchRecord], denseCalibrationLoss: Double?) -> SVGPlot {
        var calibration = iterations.map { record in
            SVGPlot.Point(x: record.compression * 100, y: exp((record.branch == "L" ? record.depthLoss : record.widthLoss) ?? .nan))
        }
        if let denseCalibrationLoss { calibration.insert(SVGPlot.Point(x: 0, y: exp(denseCalibrationLoss)), at: 0) }
        var series: [SVGPlot.Series] = [.init(name: "calibration (path)", points: calibration, style: .line)]
        for model in models {
            guard let perplexity = model.perplexity else { continue }
            series.append(.init(name: model.name, points: [SVGPlot.Point(x: model.compression * 100, y: perplexity)],
                                style: .markers))
        }
        return SVGPlot(title: "Perplexity against compression", xLabel: "compression (%)", yLabel: "perplexity",
                       logY: true, series: series)
    }
}
