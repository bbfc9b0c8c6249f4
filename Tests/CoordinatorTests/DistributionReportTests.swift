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
    }
}
