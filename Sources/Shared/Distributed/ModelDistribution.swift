/// How every rank comes to hold the same model (docs/design.md#weights-on-every-rank), and a check that it does.
public enum ModelDistribution {
    public enum Source: String, Codable, Sendable {
        /// Every rank maps the model file itself (a shared filesystem, the cluster norm).
        case mapped
        /// Rank 0 reads the file and broadcasts the weights (`--broadcast-weights`).
        case broadcast
    }

    public struct Outcome: Sendable {
        public let model: LoadedModel
        public let source: Source
        /// `ModelChecksum` of the whole model's weights, equal on every rank (with pipeline stages too, where no rank
        /// reads the whole model: the stages' sums combined).
        public let checksum: UInt64
        /// Bytes of weights broadcast (0 when mapped).
        public let bytesBroadcast: Int
        /// Wall time of loading, moving and checking the model on this rank.
        public let seconds: Double
    }

    /// A collective; each rank holds the matrices as `storage` says (a broadcast arrives in rank 0's encoding). A rank
    /// that cannot read the file, or whose file holds other weights than rank 0's, throws an error that names the
    /// file; the caller's abort then ends every rank.
    /// With a pipeline `layout`, each rank loads (or receives) and checks only its stage's part (`ModelPart`): mapped,
    /// the weights are compared among the ranks of a stage, the configuration among all; broadcast, rank 0 reads the
    /// whole file and sends each stage its part.
    public static func load(path: String, source: Source, storage: WeightStorage = .stored,
                            layout: PipelineLayout? = nil, communicator: any Communicator) throws -> Outcome {
        let start = ContinuousClock.now
        let layout = layout.flatMap { $0.stages > 1 ? $0 : nil }
        if let layout, source == .mapped {
            return try loadStage(path: path, storage: storage, layout: layout, communicator: communicator, start: start)
        }
        switch source {
        case .broadcast where communicator.size > 1:
            // Rank 0 reads every tensor to send it (with stages, each stage's to that stage's ranks only).
            let local = communicator.isCoordinator ? try ModelLoader.load(path: path, storage: storage) : nil
            let shared = try WeightBroadcast.share(local, layout: layout, communicator: communicator)
            // The share checked this stage's part; the whole model's checksum takes one more pass over it.
            let weights = shared.model.weights
            let checksum = layout.map { layout in
                let part = layout.parts(weights.config)[layout.stage(ofRank: communicator.rank)]
                let written = part.tensors(of: weights).filter { part.writes($0.name, config: weights.config) }
                return wholeChecksum(weights.config, stageSum: written.map { ModelChecksum.digest($0.name, $0.tensor) }.reduce(0, &+),
                                     layout: layout, communicator: communicator)
            } ?? shared.checksum
            return Outcome(model: shared.model, source: source, checksum: checksum,
                           bytesBroadcast: shared.bytes, seconds: seconds(since: start))
        case .broadcast, .mapped:
            let model = try ModelLoader.load(path: path, storage: storage)
            let checksum = ModelChecksum.of(model.weights)
            try requireSame(checksum, as: "rank 0's model", path: path, communicator: communicator)
            return Outcome(model: model, source: source, checksum: checksum, bytesBroadcast: 0, seconds: seconds(since: start))
        }
    }

    /// A pipeline stage's part of the model. Its part's checksum is compared among the stage's replicas; the whole
    /// model's is combined from the stages' sums.
    private static func loadStage(path: String, storage: WeightStorage, layout: PipelineLayout,
                                  communicator: any Communicator, start: ContinuousClock.Instant) throws -> Outcome {
        let config = try ModelLoader.describe(path: path).config
        let stage = layout.stage(ofRank: communicator.rank)
        let part = layout.parts(config)[stage]
        let model = try ModelLoader.load(path: path, storage: storage, part: part)
        let nothing = ModelPart(blocks: 0..<0, embeds: false, head: false)
        try requireSame(ModelChecksum.of(model.weights, part: nothing), as: "rank 0's model configuration", path: path,
                        communicator: communicator)
        let digests = part.tensors(of: model.weights).map { (name: $0.name, digest: ModelChecksum.digest($0.name, $0.tensor)) }
        let stageRanks = communicator.split(color: stage, key: communicator.rank)
        try requireSame(ModelChecksum.combine(config, digests.map(\.digest)), as: "stage \(stage)'s first rank", path: path,
                        communicator: stageRanks)
        let written = digests.filter { part.writes($0.name, config: config) }.map(\.digest).reduce(0, &+)
        let checksum = wholeChecksum(config, stageSum: written, layout: layout, communicator: communicator)
        return Outcome(model: model, source: .mapped, checksum: checksum, bytesBroadcast: 0, seconds: seconds(since: start))
    }

    /// A collective: the whole model's `ModelChecksum` from every stage's `stageSum` (the sum of the digests of the
    /// tensors the stage writes, each tensor in one stage), as its first replica's rank sends it.
    private static func wholeChecksum(_ config: ModelConfig, stageSum: UInt64, layout: PipelineLayout,
                                      communicator: any Communicator) -> UInt64 {
        ModelChecksum.combine(config, (0..<layout.stages).map { stage in
            var sum = [stageSum]
            communicator.broadcast(&sum, root: layout.rank(stage: stage, replica: 0))
            return sum[0]
        })
    }

    /// Throws on every rank whose `checksum` differs from the root's.
    private static func requireSame(_ checksum: UInt64, as what: String, path: String, communicator: any Communicator) throws {
        var reference = [checksum]
        communicator.broadcast(&reference, root: 0)
        guard reference == [checksum] else {
            throw MopError(file: path, "holds other weights than \(what) (checksum \(ModelChecksum.hex(checksum)), "
                           + "rank 0 has \(reference.first.map(ModelChecksum.hex) ?? "none")); every rank must map the same file")
        }
    }
}
