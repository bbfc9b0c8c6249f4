import XCTest
import TestSupport
@testable import Shared

/// `--stages`: the layout of ranks, what each stage holds, the activations between stages and the bubble figure.
final class PipelineTests: XCTestCase {
    let config = ModelConfig(vocabSize: 50, hidden: 16, headDim: 4,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24),
                                      LayerShape(heads: 2, kvHeads: 1, intermediate: 12),
                                      LayerShape(heads: 4, kvHeads: 2, intermediate: 32),
                                      LayerShape(heads: 4, kvHeads: 4, intermediate: 8),
                                      LayerShape(heads: 2, kvHeads: 2, intermediate: 24)],
                             tiedEmbeddings: true, maxPositions: 64)

    func testRanksFormStagesTimesReplicas() throws {
        let layout = try PipelineLayout(stages: 2, ranks: 6, blocks: 5)
        XCTAssertEqual(layout.replicas, 3)
        XCTAssertEqual((0..<6).map(layout.stage(ofRank:)), [0, 1, 0, 1, 0, 1])
        XCTAssertEqual((0..<6).map(layout.replica(ofRank:)), [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(layout.rank(stage: 1, replica: 2), 5)
        let link = StageLink(layout: layout, rank: 3)
        XCTAssertEqual(link.previous, 2)
        XCTAssertNil(link.next)
        XCTAssertNil(StageLink(layout: layout, rank: 4).previous)
        XCTAssertEqual(StageLink(layout: layout, rank: 4).next, 5)

        XCTAssertThrowsError(try PipelineLayout(stages: 2, ranks: 3, blocks: 5)) {
            XCTAssertTrue("\($0)".contains("does not divide the 3 ranks"), "\($0)")
        }
        XCTAssertThrowsError(try PipelineLayout(stages: 6, ranks: 6, blocks: 5)) {
            XCTAssertTrue("\($0)".contains("more than the model's 5 blocks"), "\($0)")
        }
        XCTAssertThrowsError(try PipelineLayout(stages: 0, ranks: 2, blocks: 5))
    }

    func testMicroBatchesAreAQuarterOfTheShardPerStageWithinBounds() {
        XCTAssertEqual(PipelineLayout.microBatchTokens(shardTokens: 4532, stages: 1), 512)
        XCTAssertEqual(PipelineLayout.microBatchTokens(shardTokens: 1000, stages: 1), 250)
        XCTAssertEqual(PipelineLayout.microBatchTokens(shardTokens: 1000, stages: 2), 125)
        XCTAssertEqual(PipelineLayout.microBatchTokens(shardTokens: 1000, stages: 8), 64)
        XCTAssertEqual(PipelineLayout.microBatchTokens(shardTokens: 10, stages: 1), 64)
    }

    func testStagesSplitTheBlocksByWorkWithTheHeadLast() throws {
        for stages in 1...5 {
            let parts = try PipelineLayout(stages: stages, ranks: stages, blocks: 5).parts(config)
            XCTAssertEqual(parts.count, stages)
            XCTAssertEqual(parts.first?.blocks.lowerBound, 0)
            XCTAssertEqual(parts.last?.blocks.upperBound, 5)
            for (earlier, later) in zip(parts, parts.dropFirst()) { XCTAssertEqual(earlier.blocks.upperBound, later.blocks.lowerBound) }
            XCTAssertEqual(parts.map(\.embeds), (0..<stages).map { $0 == 0 })
            XCTAssertEqual(parts.map(\.head), (0..<stages).map { $0 == stages - 1 })
        }
        // SmolLM2's shape: 30 equal blocks and an output matrix worth about 8 of them, so the last stage of two takes
        // fewer blocks; each stage does about half the work.
        let smol = ModelConfig(vocabSize: 49152, hidden: 576, headDim: 64,
                               layers: Array(repeating: LayerShape(heads: 9, kvHeads: 3, intermediate: 1536), count: 30),
                               tiedEmbeddings: true, maxPositions: 8192)
        let parts = try PipelineLayout(stages: 2, ranks: 2, blocks: 30).parts(smol)
        let work = parts.map { part in
            part.blocks.reduce(0) { $0 + smol.blockParameters(smol.layers[$1]) } + (part.head ? smol.vocabSize * smol.hidden : 0)
        }
        XCTAssertEqual(parts.map(\.blocks), [0..<19, 19..<30])
        XCTAssertEqual(Double(work[0]) / Double(work[1]), 1, accuracy: 0.1)
    }

    func testAPartHoldsItsBlocksAndEnds() {
        let first = ModelPart(blocks: 0..<2, embeds: true, head: false)
        let last = ModelPart(blocks: 2..<5, embeds: false, head: true)
        let names = ModelWeights.expectedShapes(config).map(\.name)
        XCTAssertEqual(names.filter { first.holds($0, config: config) },
                       ["model.embed_tokens.weight"] + names.filter { $0.hasPrefix("model.layers.0.") || $0.hasPrefix("model.layers.1.") })
        // Tied: the last stage multiplies by the embedding.
        XCTAssertTrue(last.holds("model.embed_tokens.weight", config: config))
        XCTAssertTrue(last.holds("model.norm.weight", config: config))
        XCTAssertFalse(last.holds("model.layers.1.mlp.up_proj.weight", config: config))
        XCTAssertTrue(last.holds("model.layers.4.mlp.up_proj.weight", config: config))
        var untied = config
        untied.tiedEmbeddings = false
        XCTAssertFalse(last.holds("model.embed_tokens.weight", config: untied))
        XCTAssertTrue(last.holds("lm_head.weight", config: untied))
        XCTAssertEqual(names.filter { ModelPart.whole(layers: 5).holds($0, config: config) }, names)
        // Every tensor is held by exactly one of first/last, except the tied embedding (both).
        for name in names where name != "model.embed_tokens.weight" {
            XCTAssertNotEqual(first.holds(name, config: config), last.holds(name, config: config), name)
        }
        let weights = ModelWeights.random(config: config, seed: 1)
        XCTAssertEqual(first.bytesHeld(weights), first.tensors(of: weights).reduce(0) { $0 + $1.tensor.count * 4 })
        XCTAssertEqual(ModelChecksum.of(weights, part: .whole(layers: 5)), ModelChecksum.of(weights))
        XCTAssertNotEqual(ModelChecksum.of(weights, part: first), ModelChecksum.of(weights, part: last))
    }

    /// Three stages on three threads pass a batch's activations along; the last stage's hidden states equal one
    /// process's, bit for bit, and the links count the bytes.
    func testActivationsThroughThreeStagesEqualTheWholeForward() throws {
        let weights = ModelWeights.random(config: config, seed: 4)
        let transformer = Transformer(weights: weights)
        let batch: [[Int32]] = [[1, 7, 3, 9, 12, 40, 2]]
        let whole = transformer.hiddenStates(batch)
        let layout = try PipelineLayout(stages: 3, ranks: 3, blocks: 5)
        let parts = layout.parts(config)
        let results = try ThreadedCluster.run(ranks: 3) { communicator -> [Float] in
            var link = StageLink(layout: layout, rank: communicator.rank)
            let part = parts[communicator.rank]
            let segments = Transformer.segments(batch)
            var x = link.previous == nil ? transformer.embed(batch) : try link.receive(count: 7 * 16, communicator: communicator)
            transformer.runBlocks(part.blocks, &x, segments: segments)
            guard link.next == nil else {
                link.send(x, communicator: communicator)
                XCTAssertEqual(link.bytesSent, 7 * 16 * 4)
                return []
            }
            return transformer.finalNorm(x)
        }
        XCTAssertEqual(results[2].map(\.bitPattern), whole.map(\.bitPattern))
    }

    func testAWrongSizedActivationMessageIsAnError() throws {
        let results = try ThreadedCluster.run(ranks: 2) { communicator -> String in
            var link = StageLink(previous: communicator.rank == 1 ? 0 : nil, next: communicator.rank == 0 ? 1 : nil)
            if communicator.rank == 0 {
                link.send([1, 2, 3], communicator: communicator)
                return ""
            }
            do {
                _ = try link.receive(count: 4, communicator: communicator)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(results[1].contains("rank 0 sent 12 bytes of activations, 16 expected"), results[1])
    }

    /// Bubble share = 1 - busy / (stages x wall), per replica; bytes add up over the ranks.
    func testPipelineReportFromRankMeasures() throws {
        let layout = try PipelineLayout(stages: 2, ranks: 4, blocks: 5)
        let parts = layout.parts(config)
        let measures = [
            PipelineReport.RankMeasure(seconds: 10, waitSeconds: 2, bytesSent: 100, weightsHeldBytes: 7),
            PipelineReport.RankMeasure(seconds: 9, waitSeconds: 3, bytesSent: 0, weightsHeldBytes: 8),
            PipelineReport.RankMeasure(seconds: 4, waitSeconds: 0, bytesSent: 50, weightsHeldBytes: 7),
            PipelineReport.RankMeasure(seconds: 4, waitSeconds: 2, bytesSent: 0, weightsHeldBytes: 8),
        ]
        let report = PipelineReport(layout: layout, parts: parts, ranks: measures)
        // Busy 8 + 6 + 4 + 2 = 20 over 2 x 10 + 2 x 4 = 28.
        XCTAssertEqual(report.bubbleShare, 1 - 20.0 / 28, accuracy: 1e-12)
        XCTAssertEqual(report.bytesBetweenStages, 150)
        XCTAssertEqual(report.weightsHeldBytes, [7, 8, 7, 8])
        XCTAssertEqual(report.stageBlocks, parts.map { [$0.blocks.lowerBound, $0.blocks.upperBound] })
        let gathered = try ThreadedCluster.run(ranks: 4) { communicator in
            PipelineReport.gather(measures[communicator.rank], layout: layout, parts: parts, communicator: communicator)
        }
        XCTAssertEqual(gathered[0], report)
        XCTAssertNil(gathered[1])
    }
}
