import Foundation

/// One iteration of the search, as logged, checkpointed and reported.
public struct SearchRecord: Codable, Equatable, Sendable {
    /// 1-based iteration number.
    public var iteration: Int
    /// The step taken: "L" (depth) or "G" (width).
    public var branch: String
    /// Mean calibration NLL of the depth candidate; nil when there was none.
    public var depthLoss: Double?
    /// Mean calibration NLL of the width candidate; nil when there was none.
    public var widthLoss: Double?
    /// Mean KL(dense || candidate) per token, asked only for selection `kl`.
    public var depthKL: Double?
    public var widthKL: Double?
    /// With a lookahead: the objective each candidate reaches after the greedy steps that follow it, which is what
    /// chose between them.
    public var depthLookahead: Double?
    public var widthLookahead: Double?
    /// The original index of the block the depth candidate removes (whether chosen or not).
    public var depthBlock: Int?
    /// The parameters the width candidate was asked to remove.
    public var widthBudget: Int?
    /// Parameters of the model after the step.
    public var parameters: Int
    public var nonEmbeddingParameters: Int
    /// 1 - P/P0 over all parameters, and over non-embedding parameters.
    public var compression: Double
    public var nonEmbeddingCompression: Double
    /// With a latency target: the model's generation latency over the dense model's, as the latency model predicts.
    public var predictedLatency: Double?
    /// Wall time of the iteration.
    public var seconds: Double

    public init(iteration: Int, branch: String, depthLoss: Double?, widthLoss: Double?, depthKL: Double?,
                widthKL: Double?, depthLookahead: Double? = nil, widthLookahead: Double? = nil, depthBlock: Int?, widthBudget: Int?, parameters: Int, nonEmbeddingParameters: Int,
                compression: Double, nonEmbeddingCompression: Double, predictedLatency: Double? = nil, seconds: Double) {
        self.iteration = iteration
        self.branch = branch
        self.depthLoss = depthLoss
        self.widthLoss = widthLoss
        self.depthKL = depthKL
        self.widthKL = widthKL
        self.depthLookahead = depthLookahead
        self.widthLookahead = widthLookahead
        self.depthBlock = depthBlock
        self.widthBudget = widthBudget
        self.parameters = parameters
        self.nonEmbeddingParameters = nonEmbeddingParameters
        self.compression = compression
        self.nonEmbeddingCompression = nonEmbeddingCompression
        self.predictedLatency = predictedLatency
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case iteration, branch, parameters, compression, seconds
        case depthLoss = "depth_loss", widthLoss = "width_loss", depthKL = "depth_kl", widthKL = "width_kl"
        case depthLookahead = "depth_lookahead", widthLookahead = "width_lookahead"
        case depthBlock = "depth_block", widthBudget = "width_budget"
        case nonEmbeddingParameters = "non_embedding_parameters"
        case nonEmbeddingCompression = "non_embedding_compression"
        case predictedLatency = "predicted_latency"
    }

    /// Absent values are written as null (not left out), so every record has the same keys; the lookahead values
    /// and the predicted latency only when there are any, so a search without them writes the records it always did.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(iteration, forKey: .iteration)
        try container.encode(branch, forKey: .branch)
        try container.encode(depthLoss, forKey: .depthLoss)
        try container.encode(widthLoss, forKey: .widthLoss)
        try container.encode(depthKL, forKey: .depthKL)
        try container.encode(widthKL, forKey: .widthKL)
        if depthLookahead != nil || widthLookahead != nil {
            try container.encode(depthLookahead, forKey: .depthLookahead)
            try container.encode(widthLookahead, forKey: .widthLookahead)
        }
        try container.encode(depthBlock, forKey: .depthBlock)
        try container.encode(widthBudget, forKey: .widthBudget)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(nonEmbeddingParameters, forKey: .nonEmbeddingParameters)
        try container.encode(compression, forKey: .compression)
        try container.encode(nonEmbeddingCompression, forKey: .nonEmbeddingCompression)
        try container.encodeIfPresent(predictedLatency, forKey: .predictedLatency)
        try container.encode(seconds, forKey: .seconds)
    }
}
