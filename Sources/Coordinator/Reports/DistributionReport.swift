import Shared

/// How a pruning run was spread over ranks and what that cost (the `distribution` section of report.json, read by
/// scripts/bench-scaling.sh): how the weights reached the ranks, and per rank the time and traffic of the scoring
/// requests (the dense baseline pass and every iteration's), and with rank groups the same per group.
public struct DistributionReport: Codable, Equatable, Sendable {
    public var ranks: Int
    /// `--groups`: 1 when every rank answers every request.
    public var groups: Int
    public var dedicatedCoordinator: Bool
    /// "mapped" or "broadcast".
    public var weights: String
    /// `ModelChecksum` of the weights every rank held, 16 hex digits (with `--stages`, of the part stage 0 held).
    public var modelChecksum: String
    public var weightBytesBroadcast: Int
    /// Wall time of reading (and broadcasting and checking) the model, the slowest rank's.
    public var weightSeconds: Double
    /// Wall time on rank 0 from the dense baseline pass to the end of the search: the phase the per-rank times split.
    public var scoringSeconds: Double
    /// Indexed by rank: the dense pass and the search.
    public var perRank: [Rank]
    /// Indexed by group: its ranks' numbers added up (the requests are the group's: every rank of it answers each).
    public var perGroup: [Group]
    /// Rank 0 during the search alone (the dense pass left out), what the iterations cost.
    public var search: Rank
    /// With `--stages`: the layout, the weights each rank held, the bubble and the activations between stages.
    public var pipeline: PipelineReport?

    public struct Rank: Codable, Equatable, Sendable {
        public var rank: Int
        public var group: Int
        public var requests: Int
        public var computeSeconds: Double
        public var waitSeconds: Double
        public var communicationSeconds: Double
        public var bytesBroadcast: Int
        public var bytesReduced: Int
        /// VmHWM of the rank when the search ended.
        public var peakResidentBytes: Int

        init(rank: Int, group: Int, _ s: DispatchStatistics) {
            self.rank = rank
            self.group = group
            requests = s.requests
            computeSeconds = s.computeSeconds
            waitSeconds = s.waitSeconds
            communicationSeconds = s.communicationSeconds
            bytesBroadcast = s.bytesBroadcast
            bytesReduced = s.bytesReduced
            peakResidentBytes = s.peakResidentBytes
        }

        enum CodingKeys: String, CodingKey {
            case rank, group, requests
            case computeSeconds = "compute_seconds"
            case waitSeconds = "wait_seconds"
            case communicationSeconds = "communication_seconds"
            case bytesBroadcast = "bytes_broadcast"
            case bytesReduced = "bytes_reduced"
            case peakResidentBytes = "peak_resident_bytes"
        }
    }

    public struct Group: Codable, Equatable, Sendable {
        public var group: Int
        public var ranks: [Int]
        public var requests: Int
        public var computeSeconds: Double
        public var waitSeconds: Double
        public var communicationSeconds: Double

        init(group: Int, _ members: [Rank]) {
            self.group = group
            ranks = members.map(\.rank)
            requests = members.first?.requests ?? 0
            computeSeconds = members.reduce(0) { $0 + $1.computeSeconds }
            waitSeconds = members.reduce(0) { $0 + $1.waitSeconds }
            communicationSeconds = members.reduce(0) { $0 + $1.communicationSeconds }
        }

        enum CodingKeys: String, CodingKey {
            case group, ranks, requests
            case computeSeconds = "compute_seconds"
            case waitSeconds = "wait_seconds"
            case communicationSeconds = "communication_seconds"
        }
    }

    enum CodingKeys: String, CodingKey {
        case ranks, groups, weights
        case dedicatedCoordinator = "dedicated_coordinator"
        case modelChecksum = "model_checksum"
        case weightBytesBroadcast = "weight_bytes_broadcast"
        case weightSeconds = "weight_seconds"
        case scoringSeconds = "scoring_seconds"
        case perRank = "per_rank"
        case perGroup = "per_group"
        case search, pipeline
    }

    public init(groups layout: RankGroups, model: ModelDistribution.Outcome, weightSeconds: Double,
                scoringSeconds: Double, perRank statistics: [DispatchStatistics], search: DispatchStatistics) {
        ranks = statistics.count
        groups = layout.count
        dedicatedCoordinator = layout.dedicatedCoordinator
        weights = model.source.rawValue
        modelChecksum = ModelChecksum.hex(model.checksum)
        weightBytesBroadcast = model.bytesBroadcast
        self.weightSeconds = weightSeconds
        self.scoringSeconds = scoringSeconds
        let perRank = statistics.enumerated().map { Rank(rank: $0, group: layout.group(ofRank: $0), $1) }
        self.perRank = perRank
        perGroup = (0..<layout.count).map { group in Group(group: group, perRank.filter { $0.group == group }) }
        self.search = Rank(rank: 0, group: 0, search)
    }
}
