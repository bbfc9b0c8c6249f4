import XCTest
import Shared
@testable import Coordinator

final class BeamReportTests: XCTestCase {
    func report(_ settings: PruneSettings) throws -> PruneReport {
        let landscape = LandscapeScorer()
        return PruneReport(result: try MoPSearch(settings: settings, original: landscape.config, outputDirectory: nil,
                                                 score: landscape.callAsFunction).run())
    }

    func testReportShowsEveryKeptPathAndWhyTheWinnerWon() throws {
        let report = try report(PruneSettings(target: 0.4, beam: 2))
        let data = report.json()
        XCTAssertEqual(try PruneReport.decode(data: data, file: "report.json"), report)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual((object["settings"] as? [String: Any])?["beam"] as? Int, 2)
        let beam = try XCTUnwrap(object["beam"] as? [[String: Any]])
        XCTAssertEqual(beam.count, 3)
        let last = try XCTUnwrap(beam[2]["kept"] as? [[String: Any]])
        XCTAssertEqual(last.map { $0["path"] as? String }, ["GLG", "GGG"])
        XCTAssertEqual(try XCTUnwrap(last[1]["objective"] as? Double), 1.7, accuracy: 1e-12)
        XCTAssertEqual(last.map { $0["finished"] as? Bool }, [true, true])

        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("| beam | 2 |"))
        XCTAssertTrue(markdown.contains("| 1 | 2 | 0 | `L` 1.0000, `G` 1.1000 |"), markdown)
        XCTAssertTrue(markdown.contains("| 3 | 3 | 1 | `GLG` 1.6000 finished, `GGG` 1.7000 finished |"), markdown)
        XCTAssertTrue(markdown.contains("- winner: `GLG`, objective 1.6000, lowest of the finished paths (others: `GGG` 1.7000)"),
                      markdown)
    }

    func testLookaheadScoresAreReportedAndGreedyReportsAreUnchanged() throws {
        let lookahead = try report(PruneSettings(target: 0.4, lookahead: 1))
        let markdown = lookahead.markdown()
        XCTAssertTrue(markdown.contains("| seconds | depth after 1 | width after 1 |"), markdown)
        XCTAssertTrue(markdown.contains(" | 3.0000 | 1.5000 |"), markdown)
        let record = try XCTUnwrap((JSONSerialization.jsonObject(with: lookahead.json()) as? [String: Any])?["iterations"]
            as? [[String: Any]]).first
        XCTAssertEqual(try XCTUnwrap(record?["width_lookahead"] as? Double), 1.5, accuracy: 1e-12)

        let greedy = try report(PruneSettings(target: 0.4))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: greedy.json()) as? [String: Any])
        XCTAssertNil(object["beam"], "no beam key for the greedy search")
        XCTAssertEqual(Set(try XCTUnwrap(object["settings"] as? [String: Any]).keys),
                       ["target", "method", "selection", "path", "criterion", "depth_rule", "gqa_unit", "seed", "candidate_scoring"])
        XCTAssertNil(try XCTUnwrap(object["iterations"] as? [[String: Any]]).first?["depth_lookahead"])
        XCTAssertFalse(greedy.markdown().contains("## Beam"))
        XCTAssertFalse(greedy.markdown().contains("after 1"))
    }
}
