import XCTest
import Shared
@testable import Coordinator

final class EvaluationReportTests: XCTestCase {
    func latency(_ seconds: Double, decode: Double) -> LatencyBenchmark.Result {
        LatencyBenchmark.Result(runSeconds: [seconds - 1, seconds, seconds + 1], prefillTokensPerSecond: 50,
                                decodeTokensPerSecond: decode, peakRssBytes: 300 << 20, runs: 20, warmup: 10,
                                promptTokens: 12, newTokens: 128, threads: 2)
    }

    /// The pruned model's ratio to the dense one over three paired runs: 0.7, 0.8 and 0.95 of the dense run's time.
    func pairedRatio() -> LatencyRatio {
        let dense = [9.0, 10, 11].map { LatencyBenchmark.Timing(prefillSeconds: 1, decodeSeconds: $0 - 1) }
        let pruned = zip(dense, [0.7, 0.8, 0.95]).map {
            LatencyBenchmark.Timing(prefillSeconds: $0.prefillSeconds * $1, decodeSeconds: $0.decodeSeconds * $1)
        }
        return LatencyRatio(pruned, peakRssBytes: 200 << 20, over: dense, referencePeakRssBytes: 300 << 20)
    }

    func task(_ acc: Double, _ accNorm: Double) -> ZeroShotResult {
        ZeroShotResult(acc: acc, accNorm: accNorm, accStderr: 0.01, accNormStderr: 0.01, n: 100)
    }

    func sample() -> EvaluationReport {
        EvaluationReport(perplexityFile: "/data/wikitext2-test.txt", seqLen: 512, maxTokens: 4096, taskLimit: 100, models: [
            .init(name: "dense", parameters: 1000, compression: 0, perplexity: 28.1, perplexityTokens: 4096,
                  tasks: ["piqa": task(0.6, 0.7), "boolq": task(0.4, 0.5)], latency: latency(10, decode: 12), seconds: 30),
            .init(name: "pruned", parameters: 800, compression: 0.2, perplexity: 94.0, perplexityTokens: 4096,
                  tasks: ["piqa": task(0.5, 0.6), "boolq": task(0.3, 0.2)], latency: latency(8, decode: 15),
                  latencyVsFirst: pairedRatio(), seconds: 25),
            .init(name: "recovered", parameters: 800, compression: 0.2, perplexity: 75.2, perplexityTokens: 4096,
                  tasks: ["piqa": task(0.55, 0.65), "boolq": task(0.35, 0.3)], latency: nil, seconds: 20),
        ])
    }

    func testAveragesTableAndPlot() throws {
        let report = sample()
        XCTAssertEqual(try XCTUnwrap(report.models[0].averageAcc), 0.5, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(report.models[1].averageAccNorm), 0.4, accuracy: 1e-12)
        let lines = report.markdown()
        XCTAssertEqual(lines[0], "| | dense | pruned | recovered |")
        XCTAssertTrue(lines.contains("| perplexity | 28.10 | 94.00 | 75.20 |"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("| boolq acc / acc_norm | 0.400 / 0.500 | 0.300 / 0.200 | 0.350 / 0.300 |"))
        XCTAssertTrue(lines.contains("| average acc / acc_norm | 0.500 / 0.600 | 0.400 / 0.400 | 0.450 / 0.475 |"))
        // The paired runs' median and spread, not the ratio of the means (8 / 10).
        XCTAssertTrue(lines.contains("| latency vs first | 1.000 | 0.800 (0.700-0.950) | - |"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.last!.contains("run by run (A B A B ...)"), lines.last!)
        XCTAssertTrue(lines.contains("| decode tokens/s | 12.0 | 15.0 | - |"))
        XCTAssertTrue(lines.last!.contains("first 100 examples of each task") && lines.last!.contains("first 4096 tokens"))

        let records = [0.1, 0.2].enumerated().map { index, compression in
            SearchRecord(iteration: index + 1, branch: index == 0 ? "G" : "L", depthLoss: 3.5, widthLoss: 3.0,
                         depthKL: nil, widthKL: nil, depthBlock: nil, widthBudget: nil, parameters: 0,
                         nonEmbeddingParameters: 0, compression: compression, nonEmbeddingCompression: compression, seconds: 1)
        }
        let chart = report.perplexityChart(path: records, denseCalibrationLoss: 2.5)
        XCTAssertTrue(chart.logY)
        XCTAssertEqual(chart.series.map(\.name), ["calibration (path)", "dense", "pruned", "recovered"])
        // exp of the dense loss at 0%, then the chosen candidate's loss of each step (width, then depth).
        let path = chart.series[0].points
        XCTAssertEqual(path.map(\.x), [0, 10, 20])
        XCTAssertEqual(path[0].y, exp(2.5), accuracy: 1e-9)
        XCTAssertEqual(path[1].y, exp(3.0), accuracy: 1e-9)
        XCTAssertEqual(path[2].y, exp(3.5), accuracy: 1e-9)
        XCTAssertEqual(chart.series[3].points, [SVGPlot.Point(x: 20, y: 75.2)])
    }

    func testReportWithEvaluationAndFineTuningRoundTrips() throws {
        let fake = FakeScorer(config: TinyModels.config())
        let settings = try PruneSettings(target: 0.4, selection: .path, path: "GLG")
        var report = PruneReport(result: try MoPSearch(settings: settings, original: fake.config, outputDirectory: nil,
                                                       score: fake.callAsFunction).run())
        report.evaluation = sample()
        report.finetune = FineTuneReport(model: "m", data: "d.jsonl", ranks: 2, trainExamples: 95, heldOutExamples: 5,
                                         truncatedAway: 1, steps: 2, batch: 8, microBatch: 4, losses: [3.1, 2.9],
                                         heldOutLossBefore: 3.2, heldOutLossAfter: 2.8, tokens: 1000, seconds: 4)
        XCTAssertEqual(report.finetune?.finalLoss, 2.9)
        XCTAssertEqual(report.finetune?.tokensPerSecond, 250)
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-eval-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try report.write(directory: directory)
        let path = directory + "/report.json"
        XCTAssertEqual(try PruneReport.decode(data: Data(contentsOf: URL(fileURLWithPath: path)), file: path), report)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let models = try XCTUnwrap((object["evaluation"] as? [String: Any])?["models"] as? [[String: Any]])
        XCTAssertEqual(models[1]["average_acc"] as? Double, 0.4)
        XCTAssertEqual(((models[0]["latency"] as? [String: Any])?["decode_tokens_per_second"]) as? Double, 12)
        XCTAssertEqual(((models[0]["latency"] as? [String: Any])?["run_seconds"]) as? [Double], [9, 10, 11])
        XCTAssertNil(models[0]["latency_vs_first"])
        let ratio = try XCTUnwrap(models[1]["latency_vs_first"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(ratio["latency_seconds"] as? Double), 0.8, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ratio["latency_seconds_max"] as? Double), 0.95, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ratio["peak_rss_bytes"] as? Double), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(((models[0]["tasks"] as? [String: Any])?["piqa"] as? [String: Any])?["acc_norm"] as? Double, 0.7)
        XCTAssertEqual((object["finetune"] as? [String: Any])?["held_out_loss_after"] as? Double, 2.8)
        let markdown = try String(contentsOfFile: directory + "/report.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("- held-out loss: 3.2000 before, 2.8000 after"), markdown)
        XCTAssertTrue(markdown.contains("## Dense, pruned and recovered"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/perplexity.svg"))

        let broken = Data(#"{"model": "m"}"#.utf8)
        XCTAssertThrowsError(try FineTuneReport.decode(data: broken, file: "f.json")) {
            XCTAssertTrue("\($0)".hasPrefix("f.json: key "), "\($0)")
        }
    }
}
