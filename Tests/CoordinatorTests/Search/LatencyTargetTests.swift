import XCTest
import Shared
@testable import Coordinator

/// `--target-latency`: the goal's arithmetic, a search that stops on the predicted latency, the latency model's file
/// and the report's section.
final class LatencyTargetTests: XCTestCase {
    let config = TinyModels.config(layers: 6)
    /// A made-up model with every term, in which a block's heads and neurons cost about what its parameters suggest.
    let latency = LatencyModel(constantSeconds: 1, blockSeconds: 0.05, queryHeadSeconds: 0.02, kvHeadSeconds: 0.03,
                               neuronSeconds: 0.004, samples: [], promptTokens: 12, newTokens: 128)

    func testTheGoalMeasuresParametersOrPredictedLatency() throws {
        let compression = SearchGoal(settings: try PruneSettings(target: 0.2), original: config, latency: latency)
        XCTAssertNil(compression.latency, "a compression target ignores a latency model")
        XCTAssertEqual(compression.measure(config), Double(config.parameters))
        var pruned = config
        pruned.layers.removeLast()
        XCTAssertEqual(compression.remaining(pruned), Double(pruned.parameters) - 0.8 * Double(config.parameters),
                       accuracy: 1e-9)
        XCTAssertEqual(compression.widthParameters(saving: 1234, of: pruned), 1234, "parameters save themselves")
        XCTAssertEqual(compression.blockMeasure(0, of: config), Double(config.blockParameters(config.layers[0])))
        XCTAssertEqual(compression.averageBlockMeasure(config), Double(config.blockParameters(config.layers[0])),
                       accuracy: 1e-9)

        let goal = SearchGoal(settings: try PruneSettings(targetLatency: 0.7), original: config, latency: latency)
        // Dense: 1 + 6 * (0.05 + 4 * 0.02 + 2 * 0.03 + 48 * 0.004) = 3.292 s; one block 0.382 s.
        XCTAssertEqual(goal.measure(config), 3.292, accuracy: 1e-12)
        XCTAssertEqual(goal.ratio(pruned), (3.292 - 0.382) / 3.292, accuracy: 1e-12)
        XCTAssertFalse(goal.isMet(pruned), "88% is not 70%")
        var three = pruned
        three.layers.removeLast(2)
        XCTAssertTrue(goal.isMet(three), "3.292 - 3 * 0.382 = 2.146 s is 65.2%, past 70%")
        // Left to save: 2.910 - 0.7 * 3.292 = 0.6056 s; in parameters at the model's seconds per prunable parameter.
        XCTAssertEqual(goal.remaining(pruned), 0.6056, accuracy: 1e-12)
        XCTAssertEqual(goal.blockMeasure(2, of: pruned), 0.382, accuracy: 1e-12)
        XCTAssertEqual(goal.averageBlockMeasure(pruned), 0.382, accuracy: 1e-12)
        let prunable = Double(pruned.layers.reduce(0) { $0 + pruned.prunableBlockParameters($1) })
        XCTAssertEqual(goal.widthParameters(saving: 0.6056, of: pruned) ?? .nan, 0.6056 / (5 * 0.332 / prunable),
                       accuracy: 1e-6)
        var free = latency
        (free.queryHeadSeconds, free.kvHeadSeconds, free.neuronSeconds) = (0, 0, 0)
        let blocksOnly = SearchGoal(settings: try PruneSettings(targetLatency: 0.7), original: config, latency: free)
        XCTAssertNil(blocksOnly.widthParameters(saving: 0.1, of: pruned), "no width step saves what costs nothing")
        XCTAssertTrue(goal.blockFits(0, of: pruned), "88.4% - 11.6% lands at 76.8%, not past the target")
        XCTAssertFalse(goal.blockFits(0, of: three), "65.2% - 11.6% passes 70% by far more than the tolerance")
    }

    func testASearchStopsAtThePredictedLatency() throws {
        let fake = FakeScorer(config: config)
        for target in [0.8, 0.6] {
            let settings = try PruneSettings(targetLatency: target)
            let result = try MoPSearch(settings: settings, original: config, latency: latency, outputDirectory: nil,
                                       score: fake.callAsFunction).run()
            let goal = SearchGoal(settings: settings, original: config, latency: latency)
            let reached = goal.ratio(result.structure.config(of: config))
            XCTAssertTrue(result.finished)
            XCTAssertLessThanOrEqual(reached, target + MoPSearch.tolerance, "\(target)")
            XCTAssertEqual(result.records.last?.predictedLatency ?? .nan, reached, accuracy: 1e-12)
            // Before the last step the target was not met: the search did not go on past it.
            let before = result.records.dropLast().last?.predictedLatency ?? 1
            XCTAssertGreaterThan(before, target + MoPSearch.tolerance, "\(target)")
            XCTAssertTrue(result.records.allSatisfy { $0.predictedLatency != nil })
        }
        XCTAssertThrowsError(try MoPSearch(settings: try PruneSettings(targetLatency: 0.6), original: config,
                                           outputDirectory: nil, score: fake.callAsFunction).run()) {
            XCTAssertTrue("\($0)".contains("needs a latency model"), "\($0)")
        }
    }

    func testTheLatencyModelFileRoundTripsAndRefusesBadOnes() throws {
        let directory = NSTemporaryDirectory() + "mop-latency-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        XCTAssertNil(try LatencyModelFile.read(directory: directory), "no file: nothing measured yet")
        var model = latency
        model.samples = [LatencyModel.Sample(name: "dense", shapes: config.layers, seconds: 3, predictedSeconds: 2.992)]
        try LatencyModelFile.write(model, directory: directory)
        XCTAssertEqual(try LatencyModelFile.read(directory: directory), model)

        let file = LatencyModelFile.path(in: directory)
        for (text, problem) in [("{", "not valid JSON"), ("[]", "must be"),
                                ("{\"constant_seconds\": 1}", "is missing")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            XCTAssertThrowsError(try LatencyModelFile.read(directory: directory)) {
                XCTAssertTrue("\($0)".hasPrefix(file + ": "), "\($0)")
                XCTAssertTrue("\($0)".contains(problem), "\($0)")
            }
        }
        var zero = model
        zero.constantSeconds = 0
        zero.blockSeconds = 0
        zero.queryHeadSeconds = 0
        zero.kvHeadSeconds = 0
        zero.neuronSeconds = 0
        try LatencyModelFile.write(zero, directory: directory)
        XCTAssertThrowsError(try LatencyModelFile.read(directory: directory)) {
            XCTAssertTrue("\($0)".contains("not a usable latency model"), "\($0)")
        }
    }

    func testTheReportGivesPredictedAndMeasured() throws {
        let fake = FakeScorer(config: config)
        let settings = try PruneSettings(targetLatency: 0.7)
        let result = try MoPSearch(settings: settings, original: config, latency: latency, outputDirectory: nil,
                                   score: fake.callAsFunction).run()
        var report = PruneReport(result: result, latencyModel: latency)
        let predicted = try XCTUnwrap(report.latency?.predicted)
        XCTAssertEqual(predicted, result.records.last!.predictedLatency!)
        XCTAssertNil(report.latency?.measured)
        // Paired runs of 0.70/1, 0.71/1 and 0.73/1: median 0.71.
        let runs = [0.60, 0.61, 0.63].map { LatencyBenchmark.Timing(prefillSeconds: 0.1, decodeSeconds: $0) }
        let dense = Array(repeating: LatencyBenchmark.Timing(prefillSeconds: 0.1, decodeSeconds: 0.9), count: 3)
        let ratio = LatencyRatio(runs, peakRssBytes: 1, over: dense, referencePeakRssBytes: 1)
        report.evaluation = EvaluationReport(perplexityFile: "t", seqLen: 8, maxTokens: nil, taskLimit: nil, models: [
            .init(name: "dense", parameters: 1, compression: 0, perplexity: nil, perplexityTokens: nil, tasks: nil,
                  latency: nil, seconds: 1),
            .init(name: "pruned", parameters: 1, compression: 0, perplexity: nil, perplexityTokens: nil, tasks: nil,
                  latency: nil, latencyVsFirst: ratio, seconds: 1)])
        XCTAssertEqual(report.latency?.measured ?? .nan, 0.71, accuracy: 1e-12)
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("| target latency | 70.00% of the dense model's |"), markdown)
        XCTAssertTrue(markdown.contains(String(format: "- predicted by the latency model: %.1f%%", predicted * 100)), markdown)
        XCTAssertTrue(markdown.contains(String(format: "measured (`--eval`, median of paired runs): 71.0%%; predicted / measured %.3f",
                                               predicted / 0.71)), markdown)
        let decoded = try PruneReport.decode(data: report.json(), file: "r")
        XCTAssertEqual(decoded.latency, report.latency)
    }

    func testAnUnreachableTargetIsRefusedBeforeAnyStep() throws {
        let fake = FakeScorer(config: config)
        // The constant second is 30% of the dense 3.292 s: 25% cannot be reached whatever is removed.
        XCTAssertThrowsError(try MoPSearch(settings: try PruneSettings(targetLatency: 0.25), original: config,
                                           latency: latency, outputDirectory: nil, score: fake.callAsFunction).run()) {
            XCTAssertTrue("\($0)".hasPrefix("the target latency 0.25 of the dense model's cannot be reached: the smallest "
                                            + "model the search can make (1 block(s)"), "\($0)")
        }
        XCTAssertTrue(fake.requests.isEmpty, "refused before asking the workers anything")
        // Width-only keeps every block: 96% compression is out of its reach.
        XCTAssertThrowsError(try MoPSearch(settings: try PruneSettings(target: 0.96, method: .width), original: config,
                                           outputDirectory: nil, score: fake.callAsFunction).run()) {
            XCTAssertTrue("\($0)".contains("cannot be reached"), "\($0)")
        }
    }
}
