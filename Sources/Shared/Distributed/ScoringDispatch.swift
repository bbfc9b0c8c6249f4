/// Carries the coordinator's `ScoringRequest`s to every rank and brings back the float64 sums (SPEC 7): rank 0
/// broadcasts the request (encoded once), every rank (rank 0 too; a dedicated coordinator's shard is empty) answers
/// on its shard, the answers are summed onto rank 0. The other ranks serve requests until `.stop`. Collective calls
/// only, in the same order everywhere, and every answer's length is checked against the request before the reduce,
/// so no rank waits for a message that cannot come.
public final class ScoringDispatch {
    public let communicator: any Communicator
    /// The model being pruned, which fixes every answer's length.
    public let original: ModelConfig
    /// This rank's time and traffic so far.
    public private(set) var statistics = DispatchStatistics()

    public init(communicator: any Communicator, original: ModelConfig) {
        self.communicator = communicator
        self.original = original
    }

    /// Rank 0: the summed answer of all ranks to `request`.
    public func ask(_ request: ScoringRequest, localAnswer: (ScoringRequest) throws -> [Double]) throws -> [Double] {
        precondition(communicator.isCoordinator, "only rank 0 asks")
        var bytes = request.encoded()
        let start = ContinuousClock.now
        communicator.broadcast(&bytes, root: 0)
        statistics.communicationSeconds += seconds(since: start)
        statistics.bytesBroadcast += bytes.count
        return try answer(request, localAnswer)
    }

    /// Ranks > 0: answer requests until rank 0 sends `.stop`.
    public func serve(_ localAnswer: (ScoringRequest) throws -> [Double]) throws {
        precondition(!communicator.isCoordinator, "rank 0 asks, the others serve")
        while true {
            var bytes: [UInt8] = []
            // Mostly rank 0 deciding what to ask next: waiting, not moving bytes.
            let start = ContinuousClock.now
            communicator.broadcast(&bytes, root: 0)
            statistics.waitSeconds += seconds(since: start)
            statistics.bytesBroadcast += bytes.count
            let request = try ScoringRequest.decode(bytes)
            if request == .stop { return }
            _ = try answer(request, localAnswer)
        }
    }

    /// Rank 0: releases the serving ranks.
    public func stop() {
        var bytes = ScoringRequest.stop.encoded()
        communicator.broadcast(&bytes, root: 0)
        statistics.bytesBroadcast += bytes.count
    }

    private func answer(_ request: ScoringRequest, _ localAnswer: (ScoringRequest) throws -> [Double]) throws -> [Double] {
        var start = ContinuousClock.now
        var answer = try localAnswer(request)
        statistics.computeSeconds += seconds(since: start)
        let expected = request.answerLength(original: original)
        guard answer.count == expected else {
            throw MopError("rank \(communicator.rank) answered \(answer.count) values to a request that needs \(expected)")
        }
        // The barrier separates waiting for the slowest rank from the reduce's own cost.
        start = ContinuousClock.now
        communicator.barrier()
        statistics.waitSeconds += seconds(since: start)
        start = ContinuousClock.now
        communicator.reduceSum(&answer, root: 0)
        statistics.communicationSeconds += seconds(since: start)
        statistics.bytesReduced += answer.count * MemoryLayout<Double>.size
        statistics.requests += 1
        return answer
    }
}
