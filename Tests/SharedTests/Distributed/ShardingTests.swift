import XCTest
@testable import Shared

final class ShardingTests: XCTestCase {
    func testRangesCoverEveryItemOnceInOrder() {
        let costs = [5, 1, 1, 1, 9, 2, 2, 3, 7, 1]
        for size in 1...6 {
            let ranges = (0..<size).map { Sharding.range(costs: costs, rank: $0, size: size) }
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            XCTAssertEqual(ranges.last?.upperBound, costs.count)
            for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        }
    }

    func testBalancesByCostNotByCount() {
        // One long item then many short ones: a split by count would give rank 0 almost everything.
        let costs = [100] + [Int](repeating: 10, count: 10)
        XCTAssertEqual(Sharding.range(costs: costs, rank: 0, size: 2), 0..<1)
        XCTAssertEqual(Sharding.range(costs: costs, rank: 1, size: 2), 1..<11)
    }

    func testMoreRanksThanItemsLeavesSomeEmpty() {
        let ranges = (0..<4).map { Sharding.range(costs: [3, 3], rank: $0, size: 4) }
        XCTAssertEqual(ranges.map(\.count).reduce(0, +), 2)
        XCTAssertEqual(ranges.filter { !$0.isEmpty }.count, 2)
    }
}

final class DedicatedCoordinatorShardingTests: XCTestCase {
    func testRankZeroGetsNothingAndTheOthersSplitByTokens() {
        let costs = [100] + [Int](repeating: 10, count: 10)
        XCTAssertEqual(Sharding.range(costs: costs, rank: 0, size: 3, dedicatedCoordinator: true), 0..<0)
        XCTAssertEqual(Sharding.range(costs: costs, rank: 1, size: 3, dedicatedCoordinator: true), 0..<1)
        XCTAssertEqual(Sharding.range(costs: costs, rank: 2, size: 3, dedicatedCoordinator: true), 1..<11)
        for rank in 0..<3 {
            XCTAssertEqual(Sharding.range(costs: costs, rank: rank, size: 3, dedicatedCoordinator: false),
                           Sharding.range(costs: costs, rank: rank, size: 3))
        }
    }
}
