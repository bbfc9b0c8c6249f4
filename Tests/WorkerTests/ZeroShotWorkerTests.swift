import XCTest
import Shared
@testable import Worker

final class ZeroShotWorkerTests: XCTestCase {
    let config = ModelConfig(vocabSize: 53, hidden: 24, headDim: 6,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 30),
                                      LayerShape(heads: 2, kvHeads: 1, intermediate: 11)],
                             tiedEmbeddings: true, maxPositions: 512)

    /// Examples of 2 to 4 choices over 3 tasks; some long enough that a batch holds only a few of them.
    func examples(_ count: Int) -> [(task: Int, example: TokenizedExample)] {
        var rng = SeededRandom(seed: 17)
        func ids(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % 53) } }
        return (0..<count).map { index in
            let choices = 2 + index % 3
            let context = ids(5 + Int(rng.next() % 90))
            let requests = (0..<choices).map { _ in TokenizedRequest(context: context, continuation: ids(1 + Int(rng.next() % 6))) }
            let lengths = (0..<choices).map { _ in 1 + Int(rng.next() % 30) }
            return (index % 3, TokenizedExample(requests: requests, normalizationLengths: lengths, gold: index % choices))
        }
    }

    func testCountsEqualExampleByExampleScoringAndAddUpOverShards() throws {
        let model = Transformer(weights: ModelWeights.random(config: config, seed: 8))
        let all = examples(24)
        var expected = [ZeroShotCounts](repeating: ZeroShotCounts(), count: 3)
        for (task, example) in all {
            let lls = ZeroShotScoring.logLikelihoods(model, requests: example.requests)
            expected[task].add(ZeroShotMetrics.outcome(logLikelihoods: lls, lengths: example.normalizationLengths,
                                                       gold: example.gold))
        }
        var reported: [Int] = []
        let whole = try ZeroShotWorker.score(model, examples: all[...], taskCount: 3, file: "m.gguf") { reported.append($0) }
        XCTAssertEqual(whole, expected)
        XCTAssertEqual(whole.map(\.examples), [8, 8, 8])
        XCTAssertEqual(reported.last, 24)
        XCTAssertGreaterThan(reported.count, 1, "examples are batched up to \(ZeroShotWorker.batchTokens) tokens, not all at once")
        // Three "ranks" by token cost: their counts add up to the whole.
        let costs = all.map(\.example.tokenCost)
        var summed = [Double](repeating: 0, count: 9)
        for rank in 0..<3 {
            let shard = Sharding.range(costs: costs, rank: rank, size: 3)
            let part = try ZeroShotWorker.score(model, examples: all[shard], taskCount: 3, file: "m.gguf").flatMap(\.packed)
            for i in summed.indices { summed[i] += part[i] }
        }
        XCTAssertEqual(summed, whole.flatMap(\.packed))
    }
}
