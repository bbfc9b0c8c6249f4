import XCTest
import TestSupport
@testable import Shared
@testable import Worker

/// `--finetune --stages`: pipeline stages, each holding its blocks (every other tensor NaN) and their adapters, train
/// as the unsharded worker does, step by step, and put together the same adapters.
final class PipelinedFineTuneTests: XCTestCase {
    let config = PipelineTestModel.config

    struct Run: Sendable {
        var steps: [FineTuneWorker.Step] = []
        var heldOut: Double?
        var adapters: LoRAAdapters?
        var bytesSent = 0
    }

    /// Three steps of 6 examples in micro-batches of 2 (with dropout), then the held-out loss, on `ranks` threads;
    /// with `stages` > 1 each rank holds its stage's part of the model only (the rest poisoned).
    func train(ranks: Int, stages: Int) throws -> [Run] {
        let original = ModelWeights.random(config: config, seed: 21), config = config
        var adapters = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 4, dropout: 0.1), model: config, seed: 3)
        // Non-zero B, so that every gradient is non-zero from the first step.
        var rng = SeededRandom(seed: 4)
        adapters.parameters = adapters.parameters.map { $0 + rng.uniform(0.05) }
        let settings = FineTuneSettings(lora: adapters.config, learningRate: 1e-2, batchSize: 6, microBatch: 2, totalSteps: 3,
                                        weightDecay: 0.01, maxGradientNorm: 0.5, checksumInterval: 1)
        let examples = (0..<22).map { i in
            let length = 5 + i % 7
            let tokens = (0..<length).map { _ in Int32(rng.next() % 41) }
            return InstructionExample(tokens: tokens, lossMask: (0..<length).map { $0 >= length / 3 })
        }
        let layout = try PipelineLayout(stages: stages, ranks: ranks, blocks: config.layers.count)
        let initial = adapters
        return try ThreadedCluster.run(ranks: ranks) { communicator -> Run in
            let part = layout.parts(config)[layout.stage(ofRank: communicator.rank)]
            let model = stages > 1 ? original.poisoned(outside: part) : original
            var worker = try FineTuneWorker(model: model, adapters: initial, settings: settings, file: "m.gguf",
                                            communicator: communicator, layout: layout)
            var run = Run()
            for step in 0..<3 { run.steps.append(try worker.train(on: Array(examples[(step * 6)..<(step * 6 + 6)]))) }
            run.heldOut = try worker.evaluate(Array(examples[18...]))
            run.adapters = worker.wholeAdapters()
            run.bytesSent = worker.link?.bytesSent ?? 0
            return run
        }
    }

    func testStagesTrainAsTheUnshardedWorker() throws {
        // Dropout masks follow the micro-batches, so replicas are compared with as many data-parallel ranks.
        let one = try train(ranks: 1, stages: 1)[0], two = try train(ranks: 2, stages: 1)[0]
        for (stages, ranks) in [(2, 2), (3, 3), (2, 4)] {
            let name = "\(stages) stages x \(ranks / stages) replicas"
            let reference = ranks == stages ? one : two
            let runs = try train(ranks: ranks, stages: stages)
            for run in runs {
                for (got, want) in zip(run.steps, reference.steps) {
                    XCTAssertEqual(got.loss, want.loss, accuracy: 1e-5 * want.loss, name)
                    XCTAssertEqual(got.gradientNorm, want.gradientNorm, accuracy: 1e-5 * want.gradientNorm, name)
                    XCTAssertEqual(got.targets, want.targets, name)
                }
                XCTAssertEqual(try XCTUnwrap(run.heldOut), try XCTUnwrap(reference.heldOut), accuracy: 1e-5 * reference.heldOut!, name)
                let got = try XCTUnwrap(run.adapters), want = try XCTUnwrap(reference.adapters)
                XCTAssertEqual(got.layout, want.layout, name)
                XCTAssertEqual(got.parameters.count, want.parameters.count, name)
                for (x, y) in zip(got.parameters, want.parameters) { XCTAssertEqual(x, y, accuracy: 1e-5, name) }
            }
            // Clipping bit: the norm is above 0.5 so the global norm decided each step's scale.
            XCTAssertGreaterThan(reference.steps[0].gradientNorm, 0.5)
            // Per step, each micro-batch's activations [tokens, D] cross every link forward and their gradients back;
            // the held-out pass sends activations forward only.
            let lengths = (0..<22).map { 5 + $0 % 7 }
            let trained = lengths[..<18].reduce(0, +), heldOut = lengths[18...].reduce(0, +)
            let sent = runs.reduce(0) { $0 + $1.bytesSent }
            XCTAssertEqual(sent, (2 * trained + heldOut) * (stages - 1) * config.hidden * 4, name)
        }
    }

    func testAStageHoldsItsBlocksAdaptersOnly() throws {
        let adapters = LoRAAdapters(config: LoRAConfig(rank: 2), model: config, seed: 5)
        let layout = try PipelineLayout(stages: 3, ranks: 3, blocks: config.layers.count)
        var joined: [Float] = []
        for part in layout.parts(config) {
            let stage = adapters.restricted(to: part.blocks)
            XCTAssertEqual(Set(stage.layout.entries.map(\.layer)), Set(part.blocks))
            XCTAssertEqual(stage.layout.entries.first?.a.lowerBound, 0)
            XCTAssertEqual(stage.layout.count, stage.parameters.count)
            for entry in stage.layout.entries {
                let whole = try XCTUnwrap(adapters.layout.entry(layer: entry.layer, target: entry.target))
                XCTAssertEqual(stage.a(entry), adapters.a(whole))
                XCTAssertEqual(stage.b(entry), adapters.b(whole))
            }
            joined += stage.parameters
        }
        XCTAssertEqual(joined, adapters.parameters, "the stages' spans tile the whole buffer in order")
    }
}
