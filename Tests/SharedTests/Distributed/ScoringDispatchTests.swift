import XCTest
@testable import Shared

/// Both sides of the scoring protocol over scripted ranks: what rank 0 sends, what a worker does with it, the
/// answer-length guard that keeps a bad answer out of the reduce, and the time and byte counts.
final class ScoringDispatchTests: XCTestCase {
    let config = TinyConfigs.nonUniform
    var current: PruningStructure { .identity(config) }

    func oneGroup(_ communicator: ScriptedCommunicator) throws -> ScoringDispatch {
        ScoringDispatch(communicator: communicator,
                        groups: try RankGroups(count: 1, ranks: communicator.size, dedicatedCoordinator: false),
                        original: config)
    }

    func testRankZeroBroadcastsTheRequestOnceAndReducesItsAnswer() throws {
        let rank0 = ScriptedCommunicator(rank: 0, size: 2)
        let dispatch = try oneGroup(rank0)
        let request = ScoringRequest.loss(current: current, step: nil)
        let answer = try dispatch.ask(request) { XCTAssertEqual($0, request); return [3, 4] }
        XCTAssertEqual(answer, [3, 4])
        XCTAssertEqual(rank0.sent, [request.encoded()])
        XCTAssertEqual(rank0.reduced, [[3, 4]])
        XCTAssertEqual(rank0.barriers, 1)
        dispatch.stop()
        XCTAssertEqual(rank0.sent.last, ScoringRequest.stop.encoded())
        let s = dispatch.statistics
        XCTAssertEqual(s.requests, 1)
        XCTAssertEqual(s.bytesBroadcast, request.encoded().count + ScoringRequest.stop.encoded().count)
        XCTAssertEqual(s.bytesReduced, 16)
        XCTAssertGreaterThan(s.computeSeconds + s.waitSeconds + s.communicationSeconds, 0)
    }

    func testAnAnswerOfTheWrongLengthNeverReachesTheReduce() throws {
        let rank0 = ScriptedCommunicator(rank: 0, size: 2)
        let dispatch = try oneGroup(rank0)
        XCTAssertThrowsError(try dispatch.ask(.ampStatistics(current: current)) { _ in [1, 2, 3] }) {
            XCTAssertEqual("\($0)", "rank 0 answered 3 values to a request that needs 85")
        }
        XCTAssertTrue(rank0.reduced.isEmpty)
        XCTAssertEqual(rank0.barriers, 0)
    }

    func testAWorkerAnswersEveryRequestUntilStop() throws {
        let requests: [ScoringRequest] = [.loss(current: current, step: nil), .blockInfluence(current: current)]
        let rank1 = ScriptedCommunicator(rank: 1, size: 2, receiving: requests.map { $0.encoded() } + [ScoringRequest.stop.encoded()])
        let dispatch = try oneGroup(rank1)
        var seen: [ScoringRequest] = []
        try dispatch.serve { request in
            seen.append(request)
            return [Double](repeating: 1, count: request.answerLength(original: self.config))
        }
        XCTAssertEqual(seen, requests)
        XCTAssertEqual(rank1.reduced, [[1, 1], [1, 1, 1, 1]])
        XCTAssertEqual(dispatch.statistics.requests, 2)
        XCTAssertEqual(dispatch.statistics.bytesReduced, 6 * 8)

        let garbled = ScriptedCommunicator(rank: 1, size: 2, receiving: [Array("junk".utf8)])
        XCTAssertThrowsError(try oneGroup(garbled).serve { _ in [] }) {
            XCTAssertTrue("\($0)".contains("from the coordinator"), "\($0)")
        }
    }

    func testStatisticsGatherIntoOneSlotPerRankAndSubtract() throws {
        var local = DispatchStatistics()
        local.requests = 5
        local.computeSeconds = 2
        local.waitSeconds = 0.5
        local.communicationSeconds = 0.25
        local.bytesBroadcast = 100
        local.bytesReduced = 40
        let rank1 = ScriptedCommunicator(rank: 1, size: 3)
        XCTAssertEqual(DispatchStatistics.gather(local, communicator: rank1), [])
        // Rank 1's slot holds its numbers and its peak memory (this test process's VmHWM, tens of MB at least).
        let sent = try XCTUnwrap(rank1.reduced.first)
        XCTAssertEqual(Array(sent[0..<7]) + Array(sent[14...]), [Double](repeating: 0, count: 14))
        XCTAssertEqual(Array(sent[7..<13]), [5, 2, 0.5, 0.25, 100, 40])
        XCTAssertGreaterThan(sent[13], 1e7)
        let rank0 = ScriptedCommunicator(rank: 0, size: 2)
        let gathered = DispatchStatistics.gather(local, communicator: rank0)
        var expected = local
        expected.peakResidentBytes = gathered.first?.peakResidentBytes ?? 0
        XCTAssertGreaterThan(expected.peakResidentBytes, 10_000_000)
        XCTAssertEqual(gathered, [expected, DispatchStatistics()])
        XCTAssertEqual(local.since(local), DispatchStatistics())
    }

    func testTokenSequencesBroadcastFromRankZero() throws {
        let sequences: [[Int32]] = [[1, 2, 3], [], [49151]]
        let rank0 = ScriptedCommunicator(rank: 0, size: 2)
        var sent = sequences
        try rank0.broadcast(sequences: &sent, root: 0)
        XCTAssertEqual(sent, sequences)
        let rank1 = ScriptedCommunicator(rank: 1, size: 2, receiving: rank0.sent)
        var received: [[Int32]] = []
        try rank1.broadcast(sequences: &received, root: 0)
        XCTAssertEqual(received, sequences)

        // Lengths announcing one token more than arrived.
        var short = rank0.sent
        short[1].removeLast(4)
        var lost: [[Int32]] = []
        XCTAssertThrowsError(try ScriptedCommunicator(rank: 1, size: 2, receiving: short).broadcast(sequences: &lost, root: 0)) {
            XCTAssertEqual("\($0)", "malformed token sequences from rank 0: 3 lengths that do not add up to the 3 tokens that arrived")
        }
    }
}
