import Foundation
import Shared

/// The record of a LoRA recovery run: `finetune.json`, and the `finetune` section of a chained prune's report.
public struct FineTuneReport: Codable, Equatable, Sendable {
    public var model: String
    public var data: String
    public var ranks: Int
    public var trainExamples: Int
    public var heldOutExamples: Int
    /// Rows left out because their response starts past the longest sequence.
    public var truncatedAway: Int
    public var steps: Int
    public var batch: Int
    public var microBatch: Int
    /// The training loss of every step (response tokens only).
    public var losses: [Double]
    public var finalLoss: Double
    public var heldOutLossBefore: Double?
    public var heldOutLossAfter: Double?
    public var tokens: Int
    public var seconds: Double
    public var tokensPerSecond: Double
    /// With pipeline stages (`--stages`): the training steps' layout, bubble and traffic (held-out passes left out).
    public var pipeline: PipelineReport?
    /// The activations and their gradients that crossed between stages in one step, all replicas.
    public var bytesBetweenStagesPerStep: Int?

    enum CodingKeys: String, CodingKey {
        case model, data, ranks, steps, batch, losses, tokens, seconds
        case trainExamples = "train_examples"
        case heldOutExamples = "held_out_examples"
        case truncatedAway = "truncated_away"
        case microBatch = "micro_batch"
        case finalLoss = "final_loss"
        case heldOutLossBefore = "held_out_loss_before"
        case heldOutLossAfter = "held_out_loss_after"
        case tokensPerSecond = "tokens_per_second"
        case pipeline
        case bytesBetweenStagesPerStep = "bytes_between_stages_per_step"
    }

    public init(model: String, data: String, ranks: Int, trainExamples: Int, heldOutExamples: Int, truncatedAway: Int,
                steps: Int, batch: Int, microBatch: Int, losses: [Double], heldOutLossBefore: Double?,
                heldOutLossAfter: Double?, tokens: Int, seconds: Double, pipeline: PipelineReport? = nil) {
        self.model = model
        self.data = data
        self.ranks = ranks
        self.trainExamples = trainExamples
        self.heldOutExamples = heldOutExamples
        self.truncatedAway = truncatedAway
        self.steps = steps
        self.batch = batch
        self.microBatch = microBatch
        self.losses = losses
        finalLoss = losses.last ?? .nan
        self.heldOutLossBefore = heldOutLossBefore
        self.heldOutLossAfter = heldOutLossAfter
        self.tokens = tokens
        self.seconds = seconds
        tokensPerSecond = Double(tokens) / max(seconds, 1e-9)
        self.pipeline = pipeline
        bytesBetweenStagesPerStep = pipeline.map { $0.bytesBetweenStages / max(1, steps) }
    }

    public static let fileName = "finetune.json"

    /// finetune.json: sorted snake_case keys.
    public func json() -> Data { CoordinatorJSON.encode(self) }

    /// Parses a finetune.json read from `file`.
    public static func decode(data: Data, file: String) throws -> FineTuneReport {
        try CoordinatorJSON.decode(FineTuneReport.self, from: data, file: file)
    }

    /// The one-line summary the commands print.
    public var line: String {
        String(format: "fine-tuned %ld steps: final loss %.4f, held-out loss %@ -> %@, %.0f tokens/s",
               steps, finalLoss, heldOutLossBefore.map { String(format: "%.4f", $0) } ?? "-",
               heldOutLossAfter.map { String(format: "%.4f", $0) } ?? "-", tokensPerSecond)
            + (pipeline.map { String(format: "; %ld pipeline stages x %ld replicas, bubble share %.2f, %.2f MB between stages per step",
                                     $0.stages, $0.replicas, $0.bubbleShare, Double(bytesBetweenStagesPerStep ?? 0) / 1e6) } ?? "")
    }
}
