/// What a pipelined run (`--stages`) reports: the layout, each stage's blocks, the weights each rank holds, the
/// bubble (the share of the stages' time spent waiting on a neighbour rather than computing) and the bytes that
/// crossed between stages.
public struct PipelineReport: Codable, Equatable, Sendable {
    public let stages: Int
    public let replicas: Int
    /// [first, end) of the blocks of each stage.
    public let stageBlocks: [[Int]]
    /// Bytes of weights each rank holds (`ModelPart.bytesHeld`), by rank.
    public let weightsHeldBytes: [Int]
    /// 1 - (time computing) / (stages x wall time), over all replicas.
    public let bubbleShare: Double
    /// Activation bytes sent from stage to stage, all replicas.
    public let bytesBetweenStages: Int

    enum CodingKeys: String, CodingKey {
        case stages, replicas
        case stageBlocks = "stage_blocks"
        case weightsHeldBytes = "weights_held_bytes"
        case bubbleShare = "bubble_share"
        case bytesBetweenStages = "bytes_between_stages"
    }

    /// What one rank measured, for `gather`.
    public struct RankMeasure: Sendable {
        public let seconds: Double
        public let waitSeconds: Double
        public let bytesSent: Int
        public let weightsHeldBytes: Int

        public init(seconds: Double, waitSeconds: Double, bytesSent: Int, weightsHeldBytes: Int) {
            self.seconds = seconds
            self.waitSeconds = waitSeconds
            self.bytesSent = bytesSent
            self.weightsHeldBytes = weightsHeldBytes
        }
    }

    /// Combines every rank's measure (a collective); the report on rank 0, nil elsewhere.
    public static func gather(_ measure: RankMeasure, layout: PipelineLayout, parts: [ModelPart],
                              communicator: some Communicator) -> PipelineReport? {
        let packed = [measure.seconds, measure.waitSeconds, Double(measure.bytesSent), Double(measure.weightsHeldBytes)]
        let all = communicator.gather(packed, root: 0)
        guard communicator.isCoordinator else { return nil }
        return PipelineReport(layout: layout, parts: parts, ranks: all.map {
            RankMeasure(seconds: $0[0], waitSeconds: $0[1], bytesSent: Int($0[2]), weightsHeldBytes: Int($0[3]))
        })
    }

    /// From the measures of every rank, indexed by rank.
    public init(layout: PipelineLayout, parts: [ModelPart], ranks: [RankMeasure]) {
        stages = layout.stages
        replicas = layout.replicas
        stageBlocks = parts.map { [$0.blocks.lowerBound, $0.blocks.upperBound] }
        weightsHeldBytes = ranks.map(\.weightsHeldBytes)
        bytesBetweenStages = ranks.reduce(0) { $0 + $1.bytesSent }
        var busy = 0.0, available = 0.0
        for replica in 0..<layout.replicas {
            let members = (0..<layout.stages).map { ranks[layout.rank(stage: $0, replica: replica)] }
            busy += members.reduce(0) { $0 + max(0, $1.seconds - $1.waitSeconds) }
            available += Double(layout.stages) * (members.map(\.seconds).max() ?? 0)
        }
        bubbleShare = available > 0 ? max(0, 1 - busy / available) : 0
    }
}
