import XCTest
import TestSupport
@testable import Shared
@testable import Worker

/// `--stages`: a worker holding one stage's blocks answers every scoring request, summed over the ranks, as the
/// whole-model worker does, and never reads a tensor outside its stage.
final class PipelinedWorkerTests: XCTestCase {
    let config = PipelineTestModel.config

    func testStagesTimesReplicasAnswerAsTheWholeModel() throws {
        let original = ModelWeights.random(config: config, seed: 11)
        var rng = SeededRandom(seed: 12)
        let sequences: [[Int32]] = [9, 23, 4, 17, 30, 12, 2, 19].map { n in (0..<n).map { _ in Int32(rng.next() % 41) } }
        // Blocks 1 and 2 removed (with 3 stages the first holds no block any more), heads and neurons cut elsewhere.
        var current = PruningStructure.identity(config)
        current.layers.removeSubrange(1...2)
        current.layers[1].neurons.removeFirst(5)
        current.path = "LLG"
        var width = PruningStructure.identity(current.config(of: config))
        width.layers[2].heads = [0, 1]
        width.layers[2].kvHeads = [0]
        width.layers[3].neurons.removeLast(3)
        var depth = PruningStructure.identity(current.config(of: config))
        depth.layers.remove(at: 3)
        let requests: [ScoringRequest] = [
            .loss(current: .identity(config), step: nil), .ampStatistics(current: .identity(config)),
            .loss(current: current, step: width), .klDivergence(current: current, step: width),
            .loss(current: current, step: depth), .klDivergence(current: current, step: depth),
            .ampStatistics(current: current), .blockInfluence(current: current), .klDivergence(current: current, step: nil),
            .quantImportance(current: current),
        ]
        let whole = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
        let expected = try requests.map(whole.answer)

        for (stages, ranks) in [(2, 2), (3, 3), (2, 4), (6, 6)] {
            let layout = try PipelineLayout(stages: stages, ranks: ranks, blocks: config.layers.count)
            let costs = sequences.map(\.count), config = config
            let answers = try ThreadedCluster.run(ranks: ranks) { communicator -> ([[Double]], Int) in
                let stage = PipelineStage(layout: layout, config: config, communicator: communicator)
                let shard = Sharding.range(costs: costs, rank: layout.replica(ofRank: communicator.rank), size: layout.replicas)
                let worker = CalibrationWorker(original: original.poisoned(outside: stage.part),
                                               sequences: Array(sequences[shard]), file: "m.gguf", stage: stage)
                let sums = try requests.map { request in
                    var answer = try worker.answer(request)
                    communicator.reduceSum(&answer, root: 0)
                    return answer
                }
                return (sums, worker.link!.bytesSent)
            }
            for (request, (got, want)) in zip(requests, zip(answers[0].0, expected)) {
                XCTAssertEqual(got.count, want.count, "\(stages) x \(ranks / stages): \(request)")
                for (x, y) in zip(got, want) {
                    XCTAssertEqual(x, y, accuracy: 1e-9 * max(1, abs(y)), "\(stages) x \(ranks / stages): \(request)")
                }
            }
            // Activations cross once per stage boundary per forward pass: 8 passes (the dense KL reference included;
            // a loss and the KL of the same candidate share one, and the block influence comes from the AMP
            // statistics pass of the same model), [tokens, D] fp32 each.
            let tokens = costs.reduce(0, +)
            let sent = answers.reduce(0) { $0 + $1.1 }
            XCTAssertEqual(sent, 8 * (stages - 1) * tokens * config.hidden * 4, "\(stages) x \(ranks / stages)")
        }
    }

    func testMicroBatchesAreConsecutiveWholeSequences() {
        let sequences: [[Int32]] = (0..<40).map { [Int32](repeating: 1, count: 10 + $0 % 7) }
        // 517 tokens: a quarter per stage, but not below 64 tokens.
        for (stages, count) in [(1, 4), (2, 8), (3, 8)] {
            let batches = CalibrationWorker.microBatches(sequences, stages: stages)
            XCTAssertEqual(Array(batches.joined()), sequences)
            let tokens = sequences.reduce(0) { $0 + $1.count }
            let budget = PipelineLayout.microBatchTokens(shardTokens: tokens, stages: stages)
            for batch in batches.dropLast() {
                let size = batch.reduce(0) { $0 + $1.count }
                XCTAssertGreaterThanOrEqual(size, budget)
                XCTAssertLessThan(size - batch.last!.count, budget, "a batch stops at the budget")
            }
            XCTAssertEqual(batches.count, count, "\(stages) stages")
        }
        XCTAssertEqual(CalibrationWorker.microBatches([[1, 2, 3]], stages: 2), [[[1, 2, 3]]])
        XCTAssertEqual(CalibrationWorker.microBatches([], stages: 2), [])
    }
}
