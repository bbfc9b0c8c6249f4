import XCTest
@testable import Shared

/// `ClusterPlan`'s model, against the formulas it documents, computed here the long way.
final class ClusterPlanTests: XCTestCase {
    let config = ModelConfig(vocabSize: 1000, hidden: 64, headDim: 16,
                             layers: Array(repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 256), count: 6),
                             tiedEmbeddings: false, maxPositions: 512)
    let costs = ClusterPlan.Costs(coreGflops: 2, processBytes: 1_000_000, linkBytesPerSecond: 1e8, linkLatency: 1e-4)

    /// Two bytes per parameter of what a part holds.
    func bytes(_ part: ModelPart) -> Int {
        2 * ModelWeights.expectedShapes(config).filter { part.holds($0.name, config: config) }.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    func plan(nodes: Int, memory: Int, cores: Int = 2) throws -> ClusterPlan {
        try ClusterPlan(config: config, weightBytes: bytes, machine: .init(nodes: nodes, memoryPerNode: memory, coresPerNode: cores),
                        costs: costs, seqLen: 128, perplexityTokens: 1000, calibrationTokens: 3000, calibrationSequenceTokens: 32,
                        target: 0.25)
    }

    func testOneStageWhenTheModelFitsAndReplicasShareTheWindows() throws {
        let plan = try plan(nodes: 4, memory: 1 << 30)
        XCTAssertEqual(plan.stages.count, 1)
        XCTAssertEqual(plan.replicas, 4)
        let stage = plan.stages[0]
        XCTAssertEqual(stage.weightBytes, 2 * config.parameters)
        let flops = ForwardBenchmark.products(config, tokens: 128).reduce(0) { $0 + $1.flops }
        XCTAssertEqual(stage.windowSeconds, flops / (2e9 * 2), accuracy: 1e-12)  // the last stage sends nothing
        // Activations: T x (8D + 3I) floats, the T x T scores, 64 rows of logits; one 4 MB panel per thread.
        let activations = 4 * (128 * (8 * 64 + 3 * 256) + 128 * 128 + 64 * 1000)
        XCTAssertEqual(stage.residentBytes, 2 * config.parameters + 1_000_000 + activations + 2 * (4 << 20))
        // 8 windows over 4 replicas: 2 each.
        XCTAssertEqual(plan.perplexitySeconds, 2 * stage.windowSeconds, accuracy: 1e-12)
        XCTAssertEqual(plan.bubbleShare, 0, accuracy: 1e-12)
        // The search: each replica's 750 calibration tokens in micro-batches of 750 / 4 = 187 tokens (sequences of 32),
        // at their own rate; two passes without the output matrix and two with it.
        XCTAssertEqual(plan.microBatchTokens, 187)
        let sequences = 187.0 / 32
        let withHead = ForwardBenchmark.products(config, tokens: 32).reduce(0) { $0 + $1.flops } * sequences
        let withoutHead = ForwardBenchmark.blockProducts(config, tokens: 32).reduce(0) { $0 + $1.flops } * sequences
        XCTAssertEqual(stage.microBatchSeconds, withHead / (2e9 * 2), accuracy: 1e-12)
        XCTAssertEqual(stage.statisticsMicroBatchSeconds, withoutHead / (2e9 * 2), accuracy: 1e-12)
        XCTAssertEqual(plan.iterationSeconds, (750.0 / 187) * 2 * (stage.microBatchSeconds + stage.statisticsMicroBatchSeconds),
                       accuracy: 1e-9)
        let slower = try ClusterPlan(config: config, weightBytes: bytes, machine: .init(nodes: 4, memoryPerNode: 1 << 30, coresPerNode: 2),
                                     costs: costs, seqLen: 128, perplexityTokens: 1000, calibrationTokens: 3000,
                                     calibrationSequenceTokens: 32, target: 0.25,
                                     searchGflops: { XCTAssertEqual($0, 187); return 0.5 })
        XCTAssertEqual(slower.searchCoreGflops, 0.5)
        XCTAssertEqual(slower.iterationSeconds, 4 * plan.iterationSeconds, accuracy: 1e-9)
        XCTAssertEqual(slower.perplexitySeconds, plan.perplexitySeconds, "evaluation windows keep the window rate")
        let perBlock = Double(config.nonEmbeddingParameters) / 6
        XCTAssertEqual(plan.iterations, Int((0.25 * Double(config.parameters) / perBlock).rounded(.up)))
        XCTAssertEqual(plan.runSeconds, Double(plan.iterations) * plan.iterationSeconds * 0.875, accuracy: 1e-9)
    }

    func testStagesWhenANodeCannotHoldTheModel() throws {
        // A third of the weights less than one node holds the whole model: two stages (half the weights each) fit.
        let memory = try plan(nodes: 1, memory: 1 << 30).stages[0].residentBytes - 2 * config.parameters / 3
        let plan = try plan(nodes: 4, memory: memory)
        XCTAssertEqual(plan.stages.count, 2, "the fewest stages that fit and divide the nodes")
        XCTAssertEqual(plan.replicas, 2)
        XCTAssertEqual(plan.stages.map(\.blocks), try PipelineLayout(stages: 2, ranks: 2, blocks: 6).parts(config).map {
            [$0.blocks.lowerBound, $0.blocks.upperBound] })
        for stage in plan.stages { XCTAssertLessThanOrEqual(stage.residentBytes, memory) }
        // The first stage runs its blocks (no output matrix) and sends its activations on: T x D floats.
        let first = plan.stages[0], last = plan.stages[1]
        var firstBlocks = config
        firstBlocks.layers = Array(config.layers[0..<first.blocks[1]])
        let firstFlops = ForwardBenchmark.blockProducts(firstBlocks, tokens: 128).reduce(0) { $0 + $1.flops }
        XCTAssertEqual(first.windowSeconds, firstFlops / 4e9 + 1e-4 + Double(128 * 64 * 4) / 1e8, accuracy: 1e-12)
        let slowest = max(first.windowSeconds, last.windowSeconds)
        // 8 windows over 2 replicas: 4 each, plus the pipeline's fill of one window.
        XCTAssertEqual(plan.perplexitySeconds, 5 * slowest, accuracy: 1e-12)
        XCTAssertEqual(plan.bubbleShare, 1 - (first.windowSeconds + last.windowSeconds) * 4 / (2 * 5 * slowest), accuracy: 1e-12)
        // A MoP pass: each replica's 1,500 calibration tokens in micro-batches of 1500 / 8 = 187, plus one of fill.
        let firstMicroFlops = ForwardBenchmark.blockProducts(firstBlocks, tokens: 32).reduce(0) { $0 + $1.flops } * 187 / 32
        XCTAssertEqual(first.microBatchSeconds, firstMicroFlops / 4e9 + 1e-4 + Double(187 * 64 * 4) / 1e8, accuracy: 1e-12)
        XCTAssertEqual(first.statisticsMicroBatchSeconds, first.microBatchSeconds, "the output matrix is the last stage's")
        XCTAssertLessThan(last.statisticsMicroBatchSeconds, last.microBatchSeconds)
        let passes = 2 * max(first.statisticsMicroBatchSeconds, last.statisticsMicroBatchSeconds)
            + 2 * max(first.microBatchSeconds, last.microBatchSeconds)
        XCTAssertEqual(plan.iterationSeconds, (1500.0 / 187 + 1) * passes, accuracy: 1e-9)

        XCTAssertThrowsError(try self.plan(nodes: 4, memory: 1_000_000)) {
            XCTAssertTrue("\($0)".contains("does not fit"), "\($0)")
        }
    }
}
