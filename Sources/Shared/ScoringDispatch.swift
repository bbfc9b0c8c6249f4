/// Carries the coordinator's `ScoringRequest`s to every rank and brings back the float64 sums (SPEC 7): rank 0 asks,
/// every rank (rank 0 too) answers on its shard, the answers are summed onto rank 0. The other ranks serve requests
/// until `.stop`. Collective calls only, in the same order everywhere, so no rank waits for a message that cannot come.
public struct ScoringDispatch: Sendable {
    public let communicator: any Communicator

    public init(communicator: any Communicator) { self.communicator = communicator }

    /// Rank 0: the summed answer of all ranks to `request`.
    public func ask(_ request: ScoringRequest, localAnswer: (ScoringRequest) throws -> [Double]) throws -> [Double] {
        precondition(communicator.isCoordinator, "only rank 0 asks")
        var bytes = request.encoded()
        communicator.broadcast(&bytes, root: 0)
        var answer = try localAnswer(request)
        communicator.reduceSum(&answer, root: 0)
        return answer
    }

    /// Ranks > 0: answer requests until rank 0 sends `.stop`.
    public func serve(_ answer: (ScoringRequest) throws -> [Double]) throws {
        precondition(!communicator.isCoordinator, "rank 0 asks, the others serve")
        while true {
            var bytes: [UInt8] = []
            communicator.broadcast(&bytes, root: 0)
            let request = try ScoringRequest.decode(bytes)
            if request == .stop { return }
            var local = try answer(request)
            communicator.reduceSum(&local, root: 0)
        }
    }

    /// Rank 0: releases the serving ranks.
    public func stop() {
        var bytes = ScoringRequest.stop.encoded()
        communicator.broadcast(&bytes, root: 0)
    }
}
