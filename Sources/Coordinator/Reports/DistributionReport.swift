import Shared

/// How a pruning run was spread over ranks and what that cost (the `distribution` section of report.json, read by
/// scripts/bench-scaling.sh): how the weights reached the ranks, and per rank the time and traffic of the scoring
/// requests (the dense baseline pass and every iteration's).
public struct DistributionReport: Codable, Equatable, Sendable {
    public var ranks: Int
    public var dedicatedCoordinator: Bool
    /// "mapped" or "broadcast".
    public var weights: String
    /// `ModelChecksum` of the weights every rank held, 16 hex digits.
    public var modelChecksum: String
    public var weightBytesBroadcast: Int
    /// Wall time of reading (and broadcasting and checking) the model, the slowest rank's.
    public var weightSeconds: Double
    /// Wall time on rank 0 from the dense baseline pass to the end of the search: the phase the per-rank times split.
    public var scoringSeconds: Double
    /// Indexed by rank: the dense pass and the search.
    public var perRank: [Rank]
    /// Rank 0 during the search alone (the dense pass left out), what the iterations cost.
    public var search: Rank

    public struct Rank: Codable, Equatable, Sendable {
        public var rank: Int
        public var requests: Int
        public var computeSeconds: Double
        public var waitSeconds: Double
        public var communicationSeconds: Double
        public var bytesBroadcast: Int
        public var bytesReduced: Int

        init(rank: Int, _ s: DispatchStatistics) {
            self.rank = rank
            requests = s.requests
            computeSeconds = s.computeSeconds
            waitSeconds = s.waitSeconds
            communicationSeconds = s.communicationSeconds
            bytesBroadcast = s.bytesBroadcast
            bytesReduced = s.bytesReduced
        }

        enum CodingKeys: String, CodingKey {
            case rank, requests
            case computeSeconds = "compute_seconds"
            case waitSeconds = "wait_seconds"
            case communicationSeconds = "communication_seconds"
            case bytesBroadcast = "bytes_broadcast"
            case bytesReduced = "bytes_reduced"
        }
    }

    enum CodingKeys: String, CodingKey {
        case ranks, weights
        case dedicatedCoordinator = "dedicated_coordinator"
        case modelChecksum = "model_checksum"
        case weightBytesBroadcast = "weight_bytes_broadcast"
        case weightSeconds = "weight_seconds"
        case scoringSeconds = "scoring_seconds"
        case perRank = "per_rank"
        case search
    }

    public init(dedicatedCoordinator: Bool, model: ModelDistribution.Outcome, weightSeconds: Double,
                scoringSeconds: Double, perRank statistics: [DispatchStatistics], search: DispatchStatistics) {
        ranks = statistics.count
        self.dedicatedCoordinator = dedicatedCoordinator
        weights = model.source.rawValue
        modelChecksum = ModelChecksum.hex(model.checksum)
        weightBytesBroadcast = model.bytesBroadcast
        self.weightSeconds = weightSeconds
        self.scoringSeconds = scoringSeconds
        perRank = statistics.enumerated().map { Rank(rank: $0, $1) }
        self.search = Rank(rank: 0, search)
    }
}
