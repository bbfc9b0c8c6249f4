import XCTest
import TestSupport
@testable import Shared

/// The scoring protocol with rank groups, every rank a thread of one `ThreadedCluster`: each group answers exactly
/// the requests dealt to it, over its own copy of the data, and rank 0 receives the same sums whatever G is.
final class GroupedScoringTests: XCTestCase {
    static let config = TinyConfigs.nonUniform
    /// Token counts of the calibration sequences (uneven, so shards differ in size).
    static let costs = [7, 3, 12, 5, 5, 9, 2, 8, 4, 6, 11]

    /// Requests of every kind and answer length, all distinct.
    static let requests: [ScoringRequest] = {
        let identity = PruningStructure.identity(config)
        var stepped = identity
        stepped.layers.removeFirst()
        stepped.path = "L"
        return [.loss(current: identity, step: nil), .blockInfluence(current: identity),
                .klDivergence(current: identity, step: nil), .loss(current: identity, step: stepped),
                .ampStatistics(current: identity), .klDivergence(current: identity, step: stepped),
                .blockInfluence(current: stepped)]
    }()

    /// A worker's float64 sums over the sequences `shard` for `request`: positive per-sequence terms (no
    /// cancellation to hide a lost or doubled term), the token count last, as the real answers are laid out.
    static func sums(_ request: ScoringRequest, over shard: Range<Int>) -> [Double] {
        let id = Double(requests.firstIndex(of: request)!)
        let length = request.answerLength(original: config)
        var sums = [Double](repeating: 0, count: length)
        for sequence in shard {
            for k in 0..<(length - 1) { sums[k] += (1.5 + sin(Double(sequence * 31 + k * 7) + id)) * Double(costs[sequence]) }
            sums[length - 1] += Double(costs[sequence])
        }
        return sums
    }

    struct RankOutcome: Sendable {
        var answers: [[Double]]
        var answered: [ScoringRequest]
        var requests: Int
    }

    /// Rank 0 asks the whole batch, then one request alone; every rank records what it answered.
    func run(ranks: Int, groups count: Int, dedicated: Bool = false) throws -> (groups: RankGroups, ranks: [RankOutcome]) {
        let groups = try RankGroups(count: count, ranks: ranks, dedicatedCoordinator: dedicated)
        let outcomes = try ThreadedCluster.run(ranks: ranks) { communicator in
            let shard = groups.shard(costs: Self.costs, rank: communicator.rank)
            let dispatch = ScoringDispatch(communicator: communicator, groups: groups, original: Self.config)
            var answered: [ScoringRequest] = []
            let local = { (request: ScoringRequest) -> [Double] in
                answered.append(request)
                return Self.sums(request, over: shard)
            }
            var answers: [[Double]] = []
            if communicator.isCoordinator {
                answers = try dispatch.ask(Self.requests, localAnswer: local)
                answers.append(try dispatch.ask(Self.requests[4], localAnswer: local))
                dispatch.stop()
            } else {
                try dispatch.serve(local)
            }
            return RankOutcome(answers: answers, answered: answered, requests: dispatch.statistics.requests)
        }
        return (groups, outcomes)
    }

    /// Each answer is its group's float64 sum over the whole set, so a different G moves it by rounding alone (far
    /// inside the 1e-6 that the search's results must agree to).
    func testEveryGroupAnswersExactlyItsDealtRequestsAndRankZeroGetsTheWholeSetsSums() throws {
        let whole = Self.requests.map { Self.sums($0, over: 0..<Self.costs.count) } + [Self.sums(Self.requests[4], over: 0..<Self.costs.count)]
        for (ranks, count, dedicated) in [(1, 1, false), (5, 1, false), (5, 2, false), (5, 3, false), (5, 5, false),
                                          (4, 3, true), (4, 1, true)] {
            let label = "\(ranks) ranks, \(count) groups\(dedicated ? ", dedicated coordinator" : "")"
            let (groups, outcomes) = try run(ranks: ranks, groups: count, dedicated: dedicated)
            let answers = outcomes[0].answers
            XCTAssertEqual(answers.count, whole.count, label)
            for (got, expected) in zip(answers, whole) {
                XCTAssertEqual(got.count, expected.count, label)
                for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 1e-12 * b, label) }
            }
            for (rank, outcome) in outcomes.enumerated() {
                let group = groups.group(ofRank: rank)
                let dealt = groups.requests(ofGroup: group, batch: Self.requests.count).map { Self.requests[$0] }
                    + (group == 0 ? [Self.requests[4]] : [])
                XCTAssertEqual(outcome.answered, dealt, "\(label): rank \(rank)")
                XCTAssertEqual(outcome.requests, dealt.count, "\(label): rank \(rank)")
            }
        }
    }

    func testABatchTravelsInItsOwnEnvelope() throws {
        let bytes = ScoringRequest.encoded(batch: Self.requests)
        XCTAssertEqual(try ScoringRequest.decode(batch: bytes), Self.requests)
        XCTAssertThrowsError(try ScoringRequest.decode(bytes)) {
            XCTAssertTrue("\($0)".contains("it is a scoringBatch message"), "\($0)")
        }
        XCTAssertThrowsError(try ScoringRequest.decode(batch: Self.requests[0].encoded())) {
            XCTAssertTrue("\($0)".contains("malformed scoringBatch message from the coordinator"), "\($0)")
        }
    }
}
