import XCTest
import Shared
@testable import Coordinator

final class PruneReportTests: XCTestCase {
    func testReportRoundTripsAndRendersTheTable() throws {
        let fake = FakeScorer(config: TinyModels.config())
        let settings = try PruneSettings(target: 0.4, selection: .path, path: "GLG")
        let result = try MoPSearch(settings: settings, original: fake.config, outputDirectory: nil,
                                   score: fake.callAsFunction).run()
        let report = PruneReport(result: result)
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try report.write(directory: directory)

        let jsonPath = (directory as NSString).appendingPathComponent("report.json")
        let data = try Data(contentsOf: URL(fileURLWithPath: jsonPath))
        XCTAssertEqual(try PruneReport.decode(data: data, file: jsonPath), report)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["path"] as? String, "GLG")
        XCTAssertEqual(object["original_parameters"] as? Int, 48448)
        XCTAssertEqual(object["parameters"] as? Int, result.parameters)
        XCTAssertEqual(try XCTUnwrap(object["compression"] as? Double), 0.4, accuracy: 0.005)
        // JSONSerialization may read the last digit differently; the Codable round trip above is exact.
        XCTAssertEqual(try XCTUnwrap(object["non_embedding_compression"] as? Double), result.nonEmbeddingCompression, accuracy: 1e-12)
        XCTAssertEqual(object["kept_layers"] as? [Int], result.structure.layers.map(\.index))
        XCTAssertEqual((object["settings"] as? [String: Any])?["depth_rule"] as? String, "similarity")
        let iterations = try XCTUnwrap(object["iterations"] as? [[String: Any]])
        XCTAssertEqual(iterations.count, 3)
        XCTAssertEqual(iterations[1]["branch"] as? String, "L")
        XCTAssertEqual(try XCTUnwrap(iterations[1]["depth_loss"] as? Double), result.records[1].depthLoss!, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(iterations[1]["width_loss"] as? Double), result.records[1].widthLoss!, accuracy: 1e-12)
        XCTAssertTrue(iterations[2]["depth_loss"] is NSNull, "an absent candidate is null, not left out")
        XCTAssertEqual(try XCTUnwrap(object["total_seconds"] as? Double), result.seconds, accuracy: 1e-9)

        let markdown = try String(contentsOfFile: (directory as NSString).appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| iteration | step | depth loss | width loss |"))
        let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| 1 |") || $0.hasPrefix("| 2 |") || $0.hasPrefix("| 3 |") }
        XCTAssertEqual(rows.count, 3)
        XCTAssertTrue(rows[1].hasPrefix("| 2 | L | \(String(format: "%.4f", result.records[1].depthLoss!)) |"))
        XCTAssertTrue(markdown.contains("- path: `GLG`"))
        XCTAssertEqual(report.lossPlot().count, 3)

        XCTAssertThrowsError(try PruneReport.decode(data: Data("{\"path\": 3}".utf8), file: jsonPath)) {
            XCTAssert("\($0)".hasPrefix(jsonPath + ": key "), "\($0)")
        }
    }

    func testLossChartShowsBothCandidatesAndTheChosenOne() throws {
        let fake = FakeScorer(config: TinyModels.config())
        let settings = try PruneSettings(target: 0.4, selection: .path, path: "GLG")
        let result = try MoPSearch(settings: settings, original: fake.config, outputDirectory: nil,
                                   score: fake.callAsFunction).run()
        let report = PruneReport(result: result)
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try report.write(directory: directory)

        let chart = report.lossChart()
        XCTAssertEqual(chart.series.map(\.name), ["depth candidate", "width candidate", "chosen"])
        let records = result.records
        XCTAssertEqual(chart.series[2].points.map(\.y), [records[0].widthLoss!, records[1].depthLoss!, records[2].widthLoss!])
        XCTAssertEqual(chart.series[0].points.map(\.x), records.map { $0.compression * 100 })
        XCTAssertTrue(chart.series[0].points[2].y.isNaN, "iteration 3 had no depth candidate")
        let svg = try String(contentsOfFile: (directory as NSString).appendingPathComponent("loss.svg"), encoding: .utf8)
        XCTAssertEqual(svg, chart.render())
        XCTAssertEqual(svg.components(separatedBy: "class=\"series\"").count - 1, 3)
        let markdown = try String(contentsOfFile: (directory as NSString).appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("![calibration loss](loss.svg)"))
    }
}
