import Foundation
import Shared

/// A latency target's outcome (`--target-latency`): the latency model the search stopped by, the pruned model's
/// latency over the dense model's as predicted, and as measured by `--eval` (the median of paired runs).
public struct LatencyTargetReport: Codable, Equatable, Sendable {
    public var target: Double
    public var model: LatencyModel
    public var predicted: Double
    /// nil until an evaluation timed the dense and pruned models.
    public var measured: Double?

    public init(target: Double, model: LatencyModel, predicted: Double, measured: Double? = nil) {
        self.target = target
        self.model = model
        self.predicted = predicted
        self.measured = measured
    }

    /// The measured ratio of an evaluation that timed the pruned model against the dense one (first timed).
    public static func measured(in evaluation: EvaluationReport?) -> Double? {
        evaluation?.models.first { $0.name == "pruned" }?.latencyVsFirst?.latencySeconds
    }

    /// report.md's section.
    public func markdown() -> [String] {
        var lines = ["## Latency target", "",
                     String(format: "- target: %.1f%% of the dense model's generation latency (batch 1, %ld prompt tokens, "
                            + "%ld new tokens)", target * 100, model.promptTokens, model.newTokens),
                     String(format: "- predicted by the latency model: %.1f%%", predicted * 100)]
        if let measured {
            lines.append(String(format: "- measured (`--eval`, median of paired runs): %.1f%%; predicted / measured %.3f",
                                measured * 100, predicted / measured))
        }
        lines += ["", String(format: "Latency model, fitted to the probes below: %.4g s + %.4g s per block + %.4g s per "
                             + "query head + %.4g s per KV head + %.4g s per neuron", model.constantSeconds,
                             model.blockSeconds, model.queryHeadSeconds, model.kvHeadSeconds, model.neuronSeconds),
                  "", "| probe | blocks | query heads | KV heads | neurons | measured (s) | fitted (s) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for sample in model.samples {
            lines.append(String(format: "| %@ | %ld | %ld | %ld | %ld | %.3f | %.3f |", sample.name, sample.blocks,
                                sample.queryHeads, sample.kvHeads, sample.neurons, sample.seconds, sample.predictedSeconds))
        }
        return lines
    }
}
