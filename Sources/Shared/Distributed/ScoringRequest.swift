import Foundation

/// The questions the coordinator asks about the calibration set (docs/design.md#one-iteration,
/// docs/design.md#sharding-and-sums). Every worker answers on its shard of the calibration sequences with float64 sums;
/// the sums are added over ranks, so the answer does not depend on how many ranks there are. Candidates travel as
/// structures, never as weights: `current` is the model being pruned (relative to the original), `step` a candidate
/// over it (relative to `current`, applied as a `ModelMask`). A `fold` restricts a question to that part of the
/// calibration set (nil: all of it); the sums of a question over all folds are the whole set's.
public enum ScoringRequest: Codable, Hashable, Sendable {
    /// [sum of next-token NLL, scored tokens]
    case loss(current: PruningStructure, step: PruningStructure?, fold: CalibrationFold? = nil)
    /// [sum over scored tokens of KL(dense original || current+step), scored tokens]
    case klDivergence(current: PruningStructure, step: PruningStructure?, fold: CalibrationFold? = nil)
    /// `AMPScores` sums of `current`, laid out by `AMPScores.pack`
    case ampStatistics(current: PruningStructure, fold: CalibrationFold? = nil)
    /// [sum over tokens of 1 - cos(block input, block output) for every current block..., tokens]
    case blockInfluence(current: PruningStructure, fold: CalibrationFold? = nil)
    /// Sums over tokens of every linear layer's squared inputs per column of `current`, laid out by `QuantImportance`
    case quantImportance(current: PruningStructure)
    /// Ends the workers' serving loop.
    case stop

    /// The request in its `MessageEnvelope` (a JSON payload).
    public func encoded() -> [UInt8] { MessageEnvelope.seal(.scoringRequest, MessageEnvelope.json(self)) }

    public static func decode(_ bytes: [UInt8]) throws -> ScoringRequest {
        try decode(bytes, kind: .scoringRequest, what: "scoring request")
    }

    /// A batch for rank groups (`RankGroups`), in its own envelope kind: every rank needs the whole batch, in
    /// order, to know which requests its group answers and where each answer lies in the collected sums.
    public static func encoded(batch: [ScoringRequest]) -> [UInt8] {
        MessageEnvelope.seal(.scoringBatch, MessageEnvelope.json(batch))
    }

    public static func decode(batch bytes: [UInt8]) throws -> [ScoringRequest] {
        try decode(bytes, kind: .scoringBatch, what: "scoring batch")
    }

    private static func decode<T: Decodable>(_ bytes: [UInt8], kind: MessageEnvelope.Kind, what: String) throws -> T {
        let payload = try MessageEnvelope.open(bytes, expecting: kind, from: "the coordinator")
        do { return try JSONDecoder().decode(T.self, from: Data(payload)) } catch {
            throw MopError("malformed \(what) from the coordinator: \(error)")
        }
    }

    /// How many float64 values every rank answers for a model pruned from `original`: each rank checks its answer
    /// against this before the reduce, because ranks reducing buffers of different lengths would corrupt or hang it.
    public func answerLength(original: ModelConfig) -> Int {
        switch self {
        case .loss, .klDivergence: 2
        case let .ampStatistics(current, _): current.config(of: original).layers.reduce(1) { $0 + $1.heads + $1.intermediate }
        case let .blockInfluence(current, _): current.layers.count + 1
        case let .quantImportance(current): QuantImportance.packedCount(current.config(of: original))
        case .stop: 0
        }
    }
}

/// AMP importance scores of one model (docs/design.md#head-score, docs/design.md#neuron-score): per layer, per query
/// head the mean over prompts of mean_t ||z_n[t] W_O[:, n]^T||_1 (the head's contribution to the residual stream), and
/// per neuron the mean over prompts of mean_t |SiLU(gate) * up|.
public struct AMPScores: Equatable, Sendable {
    public var heads: [[Double]]
    public var neurons: [[Double]]

    public init(heads: [[Double]], neurons: [[Double]]) {
        self.heads = heads
        self.neurons = neurons
    }

    /// Sums over prompts as a flat array for a reduce: every layer's head sums, then every layer's neuron sums,
    /// then the prompt count.
    public static func pack(headSums: [[Double]], neuronSums: [[Double]], prompts: Int) -> [Double] {
        headSums.flatMap { $0 } + neuronSums.flatMap { $0 } + [Double(prompts)]
    }

    /// The means from reduced `pack`ed sums of a model of shape `config`.
    public init(packedSums: [Double], config: ModelConfig) {
        let prompts = max(packedSums.last ?? 1, 1)
        var offset = 0
        func take(_ count: Int) -> [Double] {
            defer { offset += count }
            return packedSums[offset..<(offset + count)].map { $0 / prompts }
        }
        heads = config.layers.map { take($0.heads) }
        neurons = config.layers.map { take($0.intermediate) }
    }
}
