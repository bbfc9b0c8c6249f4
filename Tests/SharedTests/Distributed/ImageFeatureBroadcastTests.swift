import XCTest
import TestSupport
@testable import Shared

/// Rank 0 computes each image's features once and every rank keeps its shard's: values where it embeds, rows alone
/// elsewhere; a count of values that does not fit the rows stops every rank.
final class ImageFeatureBroadcastTests: XCTestCase {
    /// Sequences 0, 2 and 3 of five hold an image of 2, 3 and 1 rows of width 4.
    let images: [CalibrationSet.Image?] = [
        .init(path: "a.png", rows: 3..<5), nil, .init(path: "b.png", rows: 1..<4), .init(path: "c.png", rows: 0..<1), nil,
    ]

    static func values(_ sequence: Int, rows: Int) -> [Float] { (0..<(rows * 4)).map { Float(sequence * 100 + $0) } }

    func testEachRankKeepsItsShardsFeatures() throws {
        let images = images
        let shards = [0..<2, 2..<4, 4..<5]
        let results = try ThreadedCluster.run(ranks: 3) { communicator -> ([FeatureRows?], Int) in
            var computed = 0
            let kept = try ImageFeatureBroadcast.share(images: communicator.isCoordinator ? images : [], shard: shards[communicator.rank],
                                                       embeds: communicator.rank != 1, hidden: 4, communicator: communicator) { sequence in
                computed += 1
                return Self.values(sequence, rows: images[sequence]!.rows.count)
            }
            return (kept, computed)
        }
        XCTAssertEqual(results.map(\.1), [3, 0, 0], "the tower runs on rank 0, once per image")
        XCTAssertEqual(results[0].0, [FeatureRows(rows: 3..<5, values: Self.values(0, rows: 2)), nil])
        XCTAssertEqual(results[1].0, [FeatureRows(rows: 1..<4, values: []), FeatureRows(rows: 0..<1, values: [])])
        XCTAssertEqual(results[2].0, [nil])
    }

    func testFeaturesOfAnotherSizeStopEveryRank() throws {
        let images = images
        let results = try ThreadedCluster.run(ranks: 2) { communicator -> String in
            do {
                _ = try ImageFeatureBroadcast.share(images: communicator.isCoordinator ? images : [], shard: 0..<5, embeds: true,
                                                    hidden: 4, communicator: communicator) { _ in [1, 2, 3] }
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        for message in results { XCTAssertTrue(message.contains("3 values for 2 rows of 4"), message) }
    }
}
