/// Carries the coordinator's `ScoringRequest`s to the ranks and brings back the float64 sums
/// (docs/design.md#sharding-and-sums). The other ranks serve requests until `.stop`. Collective calls only, in the same
/// order everywhere, and every answer's length is checked against the request before a reduce, so no rank waits for a
/// message that cannot come.
///
/// With one group, rank 0 broadcasts each request (encoded once), every rank (rank 0 too; a dedicated
/// coordinator's shard is empty) answers on its shard, the answers are summed onto rank 0. With G groups
/// (`RankGroups`), rank 0 broadcasts a whole batch; each group answers the requests dealt to it, one after another,
/// summed over its own ranks onto its leader; one reduce over all ranks then brings every leader's sums to rank 0.
public final class ScoringDispatch {
    /// All ranks.
    public let communicator: any Communicator
    /// The ranks of this rank's group (all ranks with one group), ranked as in `communicator`.
    public let group: any Communicator
    public let groups: RankGroups
    /// The model being pruned, which fixes every answer's length.
    public let original: ModelConfig
    /// This rank's time and traffic so far.
    public private(set) var statistics = DispatchStatistics()

    public typealias LocalAnswer = (ScoringRequest) throws -> [Double]

    /// Every rank makes its dispatch at the same point: with more than one group this splits `communicator`.
    public init(communicator: any Communicator, groups: RankGroups, original: ModelConfig) {
        precondition(groups.ranks == communicator.size, "the groups are laid out for another number of ranks")
        self.communicator = communicator
        self.groups = groups
        // Keyed by rank, so every group's leader is its lowest rank: rank 0 leads group 0.
        group = groups.count == 1
            ? communicator : communicator.split(color: groups.group(ofRank: communicator.rank), key: communicator.rank)
        self.original = original
    }

    /// Rank 0: the answers to `batch`, in order, each summed over the ranks that answered it. The requests must be
    /// independent (none may depend on another's answer): with groups they are answered at the same time.
    public func ask(_ batch: [ScoringRequest], localAnswer: LocalAnswer) throws -> [[Double]] {
        precondition(communicator.isCoordinator, "only rank 0 asks")
        guard groups.count > 1 else {
            return try batch.map { request in
                announce(request.encoded())
                return try answer(request, localAnswer)
            }
        }
        announce(ScoringRequest.encoded(batch: batch))
        return try answerDealt(batch, localAnswer)
    }

    /// Rank 0: the summed answer to one request.
    public func ask(_ request: ScoringRequest, localAnswer: LocalAnswer) throws -> [Double] {
        try ask([request], localAnswer: localAnswer)[0]
    }

    /// Ranks > 0: answer requests until rank 0 sends `.stop`.
    public func serve(_ localAnswer: LocalAnswer) throws {
        precondition(!communicator.isCoordinator, "rank 0 asks, the others serve")
        while true {
            var bytes: [UInt8] = []
            // Mostly rank 0 deciding what to ask next: waiting, not moving bytes.
            let start = ContinuousClock.now
            communicator.broadcast(&bytes, root: 0)
            statistics.waitSeconds += seconds(since: start)
            statistics.bytesBroadcast += bytes.count
            if groups.count == 1 {
                let request = try ScoringRequest.decode(bytes)
                if request == .stop { return }
                _ = try answer(request, localAnswer)
            } else {
                let batch = try ScoringRequest.decode(batch: bytes)
                if batch == [.stop] { return }
                _ = try answerDealt(batch, localAnswer)
            }
        }
    }

    /// Rank 0: releases the serving ranks.
    public func stop() {
        announce(groups.count == 1 ? ScoringRequest.stop.encoded() : ScoringRequest.encoded(batch: [.stop]))
    }

    private func announce(_ message: [UInt8]) {
        var bytes = message
        let start = ContinuousClock.now
        communicator.broadcast(&bytes, root: 0)
        statistics.communicationSeconds += seconds(since: start)
        statistics.bytesBroadcast += bytes.count
    }

    /// This rank's group answers its share of `batch`; rank 0 gets every answer, [] elsewhere. The collecting
    /// reduce gives each request its own slots, filled only by the leader of the group that answered it (the other
    /// ranks add zeros), so every answer arrives exactly as its group summed it: the order in which the float64
    /// partial sums are added is the group's, and depends on G only through how the group shards the tokens.
    private func answerDealt(_ batch: [ScoringRequest], _ localAnswer: LocalAnswer) throws -> [[Double]] {
        let offsets = batch.reduce(into: [0]) { $0.append($0.last! + $1.answerLength(original: original)) }
        var slots = [Double](repeating: 0, count: offsets.last!)
        for index in groups.requests(ofGroup: groups.group(ofRank: communicator.rank), batch: batch.count) {
            let answer = try answer(batch[index], localAnswer)
            if group.isCoordinator { slots.replaceSubrange(offsets[index]..<offsets[index + 1], with: answer) }
        }
        reduceToRankZero(&slots, over: communicator)
        guard communicator.isCoordinator else { return [] }
        return batch.indices.map { Array(slots[offsets[$0]..<offsets[$0 + 1]]) }
    }

    /// This rank's answer to `request`, summed over its group onto the group's leader.
    private func answer(_ request: ScoringRequest, _ localAnswer: LocalAnswer) throws -> [Double] {
        let start = ContinuousClock.now
        var answer = try localAnswer(request)
        statistics.computeSeconds += seconds(since: start)
        let expected = request.answerLength(original: original)
        guard answer.count == expected else {
            throw MopError("rank \(communicator.rank) answered \(answer.count) values to a request that needs \(expected)")
        }
        reduceToRankZero(&answer, over: group)
        statistics.requests += 1
        return answer
    }

    private func reduceToRankZero(_ values: inout [Double], over ranks: any Communicator) {
        // The barrier separates waiting for the slowest rank from the reduce's own cost.
        var start = ContinuousClock.now
        ranks.barrier()
        statistics.waitSeconds += seconds(since: start)
        start = ContinuousClock.now
        ranks.reduceSum(&values, root: 0)
        statistics.communicationSeconds += seconds(since: start)
        statistics.bytesReduced += values.count * MemoryLayout<Double>.size
    }
}
