import XCTest
@testable import Shared

/// `--groups G`: which ranks form which group, which group answers which request of a batch, and each rank's share
/// of its group's copy of the data.
final class RankGroupsTests: XCTestCase {
    func testRanksFormContiguousGroupsOfNearlyEqualSizeLedByTheirLowestRank() throws {
        let five = try RankGroups(count: 2, ranks: 5, dedicatedCoordinator: false)
        XCTAssertEqual((0..<5).map(five.group(ofRank:)), [0, 0, 0, 1, 1])
        XCTAssertEqual(five.members(of: 0), [0, 1, 2])
        XCTAssertEqual(five.members(of: 1), [3, 4])
        XCTAssertEqual(five.largestGroupWorkers, 3)
        let each = try RankGroups(count: 4, ranks: 4, dedicatedCoordinator: false)
        XCTAssertEqual((0..<4).map(each.group(ofRank:)), [0, 1, 2, 3])
        let one = try RankGroups(count: 1, ranks: 3, dedicatedCoordinator: false)
        XCTAssertEqual(one.members(of: 0), [0, 1, 2])
    }

    func testADedicatedCoordinatorJoinsGroupZeroWithoutAShard() throws {
        let groups = try RankGroups(count: 3, ranks: 4, dedicatedCoordinator: true)
        XCTAssertEqual((0..<4).map(groups.group(ofRank:)), [0, 0, 1, 2])
        XCTAssertEqual(groups.largestGroupWorkers, 1)
        let costs = [4, 4, 4]
        XCTAssertEqual(groups.shard(costs: costs, rank: 0), 0..<0)
        // Every scoring rank is alone in its group: it holds the whole set.
        for rank in 1..<4 { XCTAssertEqual(groups.shard(costs: costs, rank: rank), 0..<3) }
    }

    func testEveryGroupShardsTheWholeSetOverItsRanksAndOneGroupIsTheOldSplit() throws {
        let costs = [5, 1, 1, 1, 9, 2, 2, 3, 7, 1]
        for (ranks, count, dedicated) in [(5, 2, false), (6, 3, false), (5, 2, true), (3, 3, false)] {
            let groups = try RankGroups(count: count, ranks: ranks, dedicatedCoordinator: dedicated)
            for group in 0..<count {
                let shards = groups.members(of: group).map { groups.shard(costs: costs, rank: $0) }
                XCTAssertEqual(shards.map(\.count).reduce(0, +), costs.count, "\(ranks) ranks, group \(group)")
                XCTAssertEqual(shards.first?.lowerBound, 0)
                XCTAssertEqual(shards.last?.upperBound, costs.count)
                for (a, b) in zip(shards, shards.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            }
        }
        for dedicated in [false, true] {
            let one = try RankGroups(count: 1, ranks: 4, dedicatedCoordinator: dedicated)
            for rank in 0..<4 {
                XCTAssertEqual(one.shard(costs: costs, rank: rank),
                               Sharding.range(costs: costs, rank: rank, size: 4, dedicatedCoordinator: dedicated))
            }
        }
    }

    func testRequestsAreDealtRoundRobinEachToExactlyOneGroup() throws {
        let groups = try RankGroups(count: 3, ranks: 6, dedicatedCoordinator: false)
        XCTAssertEqual(groups.requests(ofGroup: 0, batch: 7), [0, 3, 6])
        XCTAssertEqual(groups.requests(ofGroup: 1, batch: 7), [1, 4])
        XCTAssertEqual(groups.requests(ofGroup: 2, batch: 7), [2, 5])
        // A single request (AMP statistics, block influence, the dense pass) goes to group 0, which holds rank 0.
        XCTAssertEqual(groups.requests(ofGroup: 0, batch: 1), [0])
        XCTAssertEqual(groups.requests(ofGroup: 1, batch: 1), [])
        for batch in 0..<10 {
            let dealt = (0..<3).flatMap { groups.requests(ofGroup: $0, batch: batch) }
            XCTAssertEqual(dealt.sorted(), Array(0..<batch))
        }
    }

    func testGroupCountsThatLeaveAGroupWithoutAScoringRankAreOneLineErrors() {
        XCTAssertThrowsError(try RankGroups(count: 0, ranks: 2, dedicatedCoordinator: false)) {
            XCTAssertEqual("\($0)", "--groups must be at least 1, got 0")
        }
        XCTAssertThrowsError(try RankGroups(count: 3, ranks: 2, dedicatedCoordinator: false)) {
            XCTAssertEqual("\($0)", "--groups 3 needs at least 3 scoring ranks, this job has 2; "
                           + "run more ranks under mpirun or ask for fewer groups")
        }
        XCTAssertThrowsError(try RankGroups(count: 3, ranks: 3, dedicatedCoordinator: true)) {
            XCTAssertTrue("\($0)".contains("this job has 2 (rank 0 only coordinates)"), "\($0)")
        }
    }
}
