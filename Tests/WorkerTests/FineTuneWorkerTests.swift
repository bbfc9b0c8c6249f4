import XCTest
import Shared
@testable import Worker

/// A process alone (rank 0 of 1), or rank 0 of a pretend job of `size` ranks whose other ranks' float64 terms
/// `peers` adds in (their float32 terms are zero).
final class LocalCommunicator: Communicator, @unchecked Sendable {
    let rank = 0
    let size: Int
    let peers: (inout [Double]) -> Void
    private(set) var floatReductions = 0

    init(size: Int = 1, peers: @escaping (inout [Double]) -> Void = { _ in }) {
        self.size = size
        self.peers = peers
    }

    func barrier() {}
    func broadcast(_ bytes: inout [UInt8], root: Int) {}
    func broadcast(_ values: inout [Float], root: Int) {}
    func allreduceSum(_ values: inout [Double]) { peers(&values) }
    func allreduceSum(_ values: inout [Float]) { floatReductions += 1 }
    func reduceSum(_ values: inout [Double], root: Int) {}
    func send(_ bytes: [UInt8], to destination: Int, tag: Int) {}
    func receive(from source: Int, tag: Int) -> [UInt8] { [] }
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
    func split(color: Int, key: Int) -> any Communicator { fatalError("fine-tuning forms no groups") }
}

final class FineTuneWorkerTests: XCTestCase {
    let config = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24),
                                      LayerShape(heads: 2, kvHeads: 1, intermediate: 12)],
                             tiedEmbeddings: true, maxPositions: 64)

    /// Sequences of different lengths whose first half is prompt (no loss) and second half response.
    func examples(_ count: Int, seed: UInt64) -> [InstructionExample] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { i in
            let length = 6 + i % 5
            let tokens = (0..<length).map { _ in Int32(rng.next() % 40) }
            return InstructionExample(tokens: tokens, lossMask: (0..<length).map { $0 >= length / 2 })
        }
    }

    func worker(microBatch: Int, steps: Int = 5, lr: Float = 1e-2, dropout: Float = 0,
                communicator: LocalCommunicator = LocalCommunicator()) throws -> FineTuneWorker {
        var adapters = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 4, dropout: dropout), model: config, seed: 1)
        // Non-zero B so that A's gradients are not zero from the first step.
        var rng = SeededRandom(seed: 9)
        adapters.parameters = adapters.parameters.map { $0 + rng.uniform(0.05) }
        let settings = FineTuneSettings(lora: adapters.config, learningRate: lr, batchSize: 4, microBatch: microBatch,
                                        totalSteps: steps, warmupSteps: 0, weightDecay: 0.01, checksumInterval: 2)
        return try FineTuneWorker(model: .random(config: config, seed: 2), adapters: adapters, settings: settings, file: "m.gguf",
                                  communicator: communicator)
    }

    func testTwoMicroBatchesOfTwoEqualOneBatchOfFour() throws {
        let batch = examples(4, seed: 3)
        var whole = try worker(microBatch: 4), split = try worker(microBatch: 2)
        let a = try whole.train(on: batch), b = try split.train(on: batch)
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-6 * a.loss)
        XCTAssertEqual(a.targets, batch.reduce(0) { $0 + $1.targetCount })
        XCTAssertEqual(a.gradientNorm, b.gradientNorm, accuracy: 1e-6 * a.gradientNorm)
        // The first step moves every parameter by about lr (Adam's first step is lr * sign): a real update.
        XCTAssertGreaterThan(zip(whole.adapters.parameters, try worker(microBatch: 4).adapters.parameters)
            .map { abs($0 - $1) }.max()!, 1e-3)
        for (x, y) in zip(whole.adapters.parameters, split.adapters.parameters) { XCTAssertEqual(x, y, accuracy: 1e-6) }
    }

    func testTheStepLossIsTheMeanOverTargetsOfTheWholeBatch() throws {
        let batch = examples(4, seed: 5)
        var trainer = try worker(microBatch: 1)
        let reference = try LoRATrainer.lossAndGradients(model: trainer.model, adapters: trainer.adapters,
                                                         batch: batch.map(\.tokens), lossMask: batch.map(\.lossMask))
        XCTAssertEqual(try trainer.evaluate(batch)!, reference.loss, accuracy: 1e-6 * reference.loss)
        let step = try trainer.train(on: batch)
        XCTAssertEqual(step.loss, reference.loss, accuracy: 1e-6 * reference.loss)
        XCTAssertEqual(step.tokens, batch.reduce(0) { $0 + $1.tokens.count })
        XCTAssertNil(try trainer.evaluate([]))
    }

    func testAFewStepsLowerTheTrainingAndHeldOutLoss() throws {
        let data = examples(8, seed: 7)
        let communicator = LocalCommunicator()
        var trainer = try worker(microBatch: 2, steps: 30, lr: 3e-2, dropout: 0.05, communicator: communicator)
        let before = try XCTUnwrap(try trainer.evaluate(data))
        var losses: [Double] = []
        for step in 0..<30 { losses.append(try trainer.train(on: InstructionData.batch(data, step: step, batchSize: 4, seed: 1)).loss) }
        let after = try XCTUnwrap(try trainer.evaluate(data))
        XCTAssertLessThan(after, 0.8 * before, "loss on the training set went from \(before) to \(after)")
        XCTAssertLessThan(losses.suffix(4).reduce(0, +), losses.prefix(4).reduce(0, +))
        XCTAssertEqual(communicator.floatReductions, 30, "one gradient allreduce per step")
        XCTAssertEqual(trainer.step, 30)
    }

    func testRanksWhoseParametersDifferFailLoudly() throws {
        let mine = try worker(microBatch: 2).checksum
        func peers(_ checksums: [Double]) -> LocalCommunicator {
            LocalCommunicator(size: 1 + checksums.count) { values in for (i, c) in checksums.enumerated() { values[i + 1] += c } }
        }
        XCTAssertNoThrow(try worker(microBatch: 2, communicator: peers([mine, mine])).checkReplicas())
        XCTAssertThrowsError(try worker(microBatch: 2, communicator: peers([mine, mine + 1e-9])).checkReplicas()) {
            XCTAssertTrue("\($0)".contains("LoRA parameters differ between ranks"), "\($0)")
        }
    }

    func testRanksThatSawAnotherBatchFailLoudly() throws {
        // A second rank reporting one more target than its share of the batch holds: it read other data.
        let batch = examples(4, seed: 3)
        let share = batch[Sharding.range(costs: batch.map(\.tokens.count), rank: 1, size: 2)]
        let peerTargets = Double(share.reduce(0) { $0 + $1.targetCount } + 1)
        var trainer = try worker(microBatch: 2, communicator: LocalCommunicator(size: 2) { values in
            if values.count == 2 { values[1] += peerTargets }
        })
        XCTAssertThrowsError(try trainer.train(on: batch)) {
            XCTAssertTrue("\($0)".contains("ranks disagree on step 0's batch"), "\($0)")
        }
    }

    func testBadSettingsAreRefused() {
        let adapters = LoRAAdapters(config: LoRAConfig(), model: config, seed: 1)
        for settings in [FineTuneSettings(batchSize: 0, totalSteps: 1), FineTuneSettings(microBatch: 0, totalSteps: 1),
                         FineTuneSettings(totalSteps: 0), FineTuneSettings(learningRate: -1, totalSteps: 1)] {
            XCTAssertThrowsError(try FineTuneWorker(model: .random(config: config, seed: 2), adapters: adapters,
                                                    settings: settings, file: "m.gguf", communicator: LocalCommunicator())) {
                XCTAssertTrue("\($0)".contains("fine-tuning settings out of range"), "\($0)")
            }
        }
    }
}
