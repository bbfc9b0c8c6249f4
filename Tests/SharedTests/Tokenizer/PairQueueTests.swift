import XCTest
@testable import Shared

/// `PairQueue` gives pairs back highest score first and, among equal scores, leftmost first, whatever order they were
/// pushed in and however pushes and pops interleave.
final class PairQueueTests: XCTestCase {
    func testPopsInScoreThenPositionOrder() {
        var random = SystemRandomNumberGenerator()
        var queue = PairQueue()
        var expected: [(Float, Int)] = []
        var popped: [(Float, Int)] = []
        for round in 0..<2000 {
            // Few distinct scores, so ties are common and the position order is exercised.
            let pair = PairQueue.Pair(left: round, right: round + 1, size: 2,
                                      score: Float(Int.random(in: -8...0, using: &random)))
            queue.push(pair)
            expected.append((pair.score, pair.left))
            if round % 3 == 0, let first = queue.pop() { popped.append((first.score, first.left)) }
        }
        while let pair = queue.pop() { popped.append((pair.score, pair.left)) }
        XCTAssertEqual(popped.count, expected.count)
        // Everything pushed comes out once; and what remained after the last push comes out in order.
        XCTAssertEqual(popped.map(\.1).sorted(), expected.map(\.1).sorted())
        let tail = popped.suffix(expected.count - 667)
        XCTAssertTrue(zip(tail, tail.dropFirst()).allSatisfy { a, b in a.0 > b.0 || (a.0 == b.0 && a.1 < b.1) })
        XCTAssertNil(queue.pop())
    }
}
