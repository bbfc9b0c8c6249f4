/// How every rank comes to hold the same model (SPEC 7), and a check that it does.
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
        /// `ModelChecksum` of the weights, equal on every rank.
        public let checksum: UInt64
        /// Bytes of weights broadcast (0 when mapped).
        public let bytesBroadcast: Int
        /// Wall time of loading, moving and checking the model on this rank.
        public let seconds: Double
    }

    /// A collective; each rank holds the matrices as `storage` says (a broadcast arrives in rank 0's encoding). A rank
    /// that cannot read the file, or whose file holds other weights than rank 0's, throws an error that names the
    /// file; the caller's abort then ends every rank.
    public static func load(path: String, source: Source, storage: WeightStorage = .stored,
                            communicator: any Communicator) throws -> Outcome {
        let start = ContinuousClock.now
        switch source {
        case .broadcast where communicator.size > 1:
            var local: LoadedModel?, checksum: UInt64?
            if communicator.isCoordinator {
                let model = try ModelLoader.load(path: path, storage: storage)
                local = model
                checksum = ModelChecksum.of(model.weights)
            }
            let shared = try WeightBroadcast.share(local, checksum: checksum, communicator: communicator)
            return Outcome(model: shared.model, source: source, checksum: shared.checksum,
                           bytesBroadcast: shared.bytes, seconds: seconds(since: start))
        case .broadcast, .mapped:
            let model = try ModelLoader.load(path: path, storage: storage)
            let checksum = ModelChecksum.of(model.weights)
            var reference = [checksum]
            communicator.broadcast(&reference, root: 0)
            guard reference == [checksum] else {
                throw MopError(file: path, "holds other weights than rank 0's model (checksum \(ModelChecksum.hex(checksum)), "
                               + "rank 0 has \(reference.first.map(ModelChecksum.hex) ?? "none")); every rank must map the same file")
            }
            return Outcome(model: model, source: source, checksum: checksum, bytesBroadcast: 0, seconds: seconds(since: start))
        }
    }
}
