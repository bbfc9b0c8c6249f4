import XCTest
@testable import Coordinator
@testable import Shared

final class DistributionReportTests: XCTestCase {
    func testPerRankNumbersLandInReportJSONUnderSnakeCaseKeysAndReadBack() throws {
        var busy = DispatchStatistics()
        busy.requests = 7
        busy.computeSeconds = 1.5
        busy.waitSeconds = 0.25
        busy.communicationSeconds = 0.125
        busy.bytesBroadcast = 4096
        busy.bytesReduced = 800
        let weights = ModelWeights.random(config: ModelConfig(vocabSize: 16, hidden: 8, headDim: 4,
                                                              layers: [LayerShape(heads: 2, kvHeads: 1, intermediate: 6)],
                                                              tiedEmbeddings: true), seed: 1)
        let outcome = ModelDistribution.Outcome(model: LoadedModel(weights: weights, tokenizer: nil, format: .gguf),
                                                source: .broadcast, checksum: 0xABCDEF, bytesBroadcast: 1234, seconds: 0.5)
        let report = DistributionReport(groups: try RankGroups(count: 1, ranks: 2, dedicatedCoordinator: true),
                                        model: outcome, weightSeconds: 0.75, scoringSeconds: 2,
                                        perRank: [DispatchStatistics(), busy], search: busy)
        XCTAssertEqual(report.ranks, 2)
        XCTAssertEqual(report.weights, "broadcast")
        XCTAssertEqual(report.modelChecksum, "0000000000abcdef")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: CoordinatorJSON.encode(report)) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["ranks", "groups", "dedicated_coordinator", "weights", "model_checksum",
                                        "weight_bytes_broadcast", "weight_seconds", "scoring_seconds", "per_rank", "per_group", "search"])
        let second = try XCTUnwrap((json["per_rank"] as? [[String: Any]])?.last)
        XCTAssertEqual(second["rank"] as? Int, 1)
        XCTAssertEqual(second["compute_seconds"] as? Double, 1.5)
        XCTAssertEqual(second["bytes_reduced"] as? Int, 800)
        XCTAssertEqual((json["search"] as? [String: Any])?["requests"] as? Int, 7)
        XCTAssertEqual(try CoordinatorJSON.decode(DistributionReport.self, from: CoordinatorJSON.encode(report), file: "r"), report)

        // A pipelined run adds its pipeline section, which reads back and shows in report.md.
        var staged = report
        let layout = try PipelineLayout(stages: 1, ranks: 2, blocks: 1)
        let measure = PipelineReport.RankMeasure(seconds: 2, waitSeconds: 0.5, bytesSent: 3_000_000, weightsHeldBytes: 10)
        staged.pipeline = PipelineReport(layout: layout, parts: layout.parts(weights.config), ranks: [measure, measure])
        let stagedJSON = try XCTUnwrap(JSONSerialization.jsonObject(with: CoordinatorJSON.encode(staged)) as? [String: Any])
        XCTAssertEqual((stagedJSON["pipeline"] as? [String: Any])?["bytes_between_stages"] as? Int, 6_000_000)
        XCTAssertEqual(try CoordinatorJSON.decode(DistributionReport.self, from: CoordinatorJSON.encode(staged), file: "r"), staged)
        let fake = FakeScorer(config: TinyModels.config())
        let result = try MoPSearch(settings: try PruneSettings(target: 0.2, selection: .path, path: "G"), original: fake.config,
                                   outputDirectory: nil, score: fake.callAsFunction).run()
        let markdown = PruneReport(result: result, distribution: staged).markdown()
        XCTAssertTrue(markdown.contains("- pipeline: 1 stages x 2 replicas, blocks 0-0; bubble share 0.25, 6.0 MB between stages"), markdown)
    }
}
