/// How `--groups G` splits the ranks (docs/design.md#rank-groups, issue 16): the scoring ranks, in order, form G
/// contiguous groups whose sizes differ by at most one; each group holds its own copy of the calibration set, sharded
/// over its ranks by tokens, and answers the requests of a batch dealt to it. With a dedicated coordinator rank 0
/// scores nothing and joins group 0, so that rank 0 leads group 0 and receives its sums as it receives everyone's with
/// one group. One group is the whole job: every rank answers every request, as without groups.
public struct RankGroups: Equatable, Sendable {
    /// G.
    public let count: Int
    /// All ranks of the job.
    public let ranks: Int
    public let dedicatedCoordinator: Bool

    /// Throws a one-line error when `count` groups cannot each get a scoring rank.
    public init(count: Int, ranks: Int, dedicatedCoordinator: Bool) throws {
        guard count >= 1 else { throw MopError("--groups must be at least 1, got \(count)") }
        let workers = ranks - (dedicatedCoordinator ? 1 : 0)
        guard count <= workers else {
            throw MopError("--groups \(count) needs at least \(count) scoring ranks, this job has \(workers)"
                           + (dedicatedCoordinator ? " (rank 0 only coordinates)" : "")
                           + "; run more ranks under mpirun or ask for fewer groups")
        }
        self.count = count
        self.ranks = ranks
        self.dedicatedCoordinator = dedicatedCoordinator
    }

    private var firstWorker: Int { dedicatedCoordinator ? 1 : 0 }
    private var workers: Int { ranks - firstWorker }

    public func group(ofRank rank: Int) -> Int {
        precondition(rank >= 0 && rank < ranks)
        return rank < firstWorker ? 0 : (rank - firstWorker) * count / workers
    }

    /// The ranks of `group`, ascending; the first leads it (receives its sums).
    public func members(of group: Int) -> [Int] {
        (0..<ranks).filter { self.group(ofRank: $0) == group }
    }

    /// The most ranks holding a shard in any one group: every group needs at least that many calibration sequences.
    public var largestGroupWorkers: Int {
        (0..<count).map { members(of: $0).count - ($0 == 0 ? firstWorker : 0) }.max() ?? 0
    }

    /// The requests of a batch of `batch` that `group` answers, in batch order. Dealt round-robin: a batch smaller than
    /// G lands on the first groups, so a single request goes to group 0, which holds rank 0.
    public func requests(ofGroup group: Int, batch: Int) -> [Int] {
        Array(stride(from: group, to: batch, by: count))
    }

    /// `rank`'s share of items of the given costs (tokens): its group's copy of all items split by `Sharding` over
    /// the group's ranks (a dedicated coordinator's share is empty). With one group, the split over all ranks.
    public func shard(costs: [Int], rank: Int) -> Range<Int> {
        let group = group(ofRank: rank), members = members(of: group)
        return Sharding.range(costs: costs, rank: members.firstIndex(of: rank)!, size: members.count,
                              dedicatedCoordinator: dedicatedCoordinator && group == 0)
    }
}
