import XCTest
import Shared
@testable import Worker

/// The search asks a path's AMP statistics, its block influence and its candidates' losses one after another; the
/// worker answers the block influence from the statistics pass and resumes the depth candidate from the block inputs
/// that pass kept. Every answer must equal the one a fresh worker gives to that question alone, at the cost in blocks
/// run that the sharing promises.
final class SharedPassTests: XCTestCase {
    let config = ModelConfig(vocabSize: 53, hidden: 24, headDim: 6,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 30),
                                      LayerShape(heads: 2, kvHeads: 2, intermediate: 11),
                                      LayerShape(heads: 4, kvHeads: 1, intermediate: 20),
                                      LayerShape(heads: 4, kvHeads: 2, intermediate: 16)],
                             tiedEmbeddings: true, maxPositions: 64)
    var sequences: [[Int32]] {
        var rng = SeededRandom(seed: 8)
        return [9, 14, 4, 11].map { n in (0..<n).map { _ in Int32(rng.next() % 53) } }
    }

    func alone(_ original: ModelWeights, _ question: ScoringRequest) throws -> [Double] {
        try CalibrationWorker(original: original, sequences: sequences, file: "m.gguf").answer(question)
    }

    func assertClose(_ answer: [Double], _ expected: [Double], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(answer.count, expected.count, message, file: file, line: line)
        for (value, reference) in zip(answer, expected) {
            XCTAssertEqual(value, reference, accuracy: 1e-6 * max(abs(reference), 1e-3), message, file: file, line: line)
        }
    }

    func testBlockInfluenceComesFromTheStatisticsPass() throws {
        let original = ModelWeights.random(config: config, seed: 2)
        for fold in [nil] + CalibrationFold.all(2) {
            let identity = PruningStructure.identity(config)
            let worker = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
            let statistics = try worker.answer(.ampStatistics(current: identity, fold: fold))
            XCTAssertEqual(worker.blocksRun, 4)
            let influence = try worker.answer(.blockInfluence(current: identity, fold: fold))
            XCTAssertEqual(worker.blocksRun, 4, "the block influence took a pass of its own")
            assertClose(statistics, try alone(original, .ampStatistics(current: identity, fold: fold)), "statistics, fold \(String(describing: fold))")
            assertClose(influence, try alone(original, .blockInfluence(current: identity, fold: fold)), "influence, fold \(String(describing: fold))")
            // Asked again, or asked first, it is a pass.
            _ = try worker.answer(.blockInfluence(current: identity, fold: fold))
            XCTAssertEqual(worker.blocksRun, 8)
        }
    }

    func testADepthCandidateResumesFromTheKeptBlockInput() throws {
        let original = ModelWeights.random(config: config, seed: 3)
        var current = PruningStructure.identity(config)
        current.layers[0].neurons.removeLast(5)
        current.path = "G"
        let shape = try current.apply(to: original).config
        for block in 0..<4 {
            let worker = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
            _ = try worker.answer(.ampStatistics(current: current))
            let depth = ScoringRequest.loss(current: current, step: Self.removing(block, from: shape))
            assertClose(try worker.answer(depth), try alone(original, depth), "depth step removing block \(block)")
            // Blocks 1, 2 and 3 keep their inputs here (a quarter of the weights' bytes holds three blocks of the
            // 38 rows): the candidate runs the blocks after the removed one, and only those.
            XCTAssertEqual(worker.blocksRun, 4 + 3 - block, "removing block \(block)")
            // The width candidate changes block 0: a whole pass.
            var width = PruningStructure.identity(shape)
            width.layers[0].neurons.removeFirst(3)
            let widthLoss = ScoringRequest.loss(current: current, step: width)
            assertClose(try worker.answer(widthLoss), try alone(original, widthLoss), "width step")
            XCTAssertEqual(worker.blocksRun, 8 + 3 - block)
        }
    }

    func testAnotherModelsInputsAreNotUsed() throws {
        let original = ModelWeights.random(config: config, seed: 4)
        let identity = PruningStructure.identity(config)
        var other = identity
        other.layers[3].heads = [0, 1]
        other.layers[3].kvHeads = [0]
        other.path = "G"
        let worker = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
        _ = try worker.answer(.ampStatistics(current: identity))
        _ = try worker.answer(.loss(current: other, step: nil))
        let depth = ScoringRequest.loss(current: identity, step: Self.removing(3, from: config))
        assertClose(try worker.answer(depth), try alone(original, depth), "after another model")
        XCTAssertEqual(worker.blocksRun, 4 + 4 + 3, "inputs of a model left behind were used")
        // Nor another fold's.
        let half = CalibrationFold.all(2)[0]
        _ = try worker.answer(.ampStatistics(current: identity, fold: half))
        let otherFold = ScoringRequest.loss(current: identity, step: Self.removing(3, from: config), fold: half.others[0])
        assertClose(try worker.answer(otherFold), try alone(original, otherFold), "the other fold")
        XCTAssertEqual(worker.blocksRun, 11 + 4 + 3)
    }

    /// After the search the worker forgets what it kept (prune's recovery and evaluation need the memory): the
    /// block influence and the depth candidate then take passes of their own, with the same answers.
    func testForgettingTheSearchDropsTheKeptPassButNotTheAnswers() throws {
        let original = ModelWeights.random(config: config, seed: 5)
        let identity = PruningStructure.identity(config)
        let worker = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
        _ = try worker.answer(.ampStatistics(current: identity))
        worker.forgetSearch()
        // Kept, the last block's input would leave nothing to run; forgotten, the three blocks before it run.
        let depth = ScoringRequest.loss(current: identity, step: Self.removing(3, from: config))
        assertClose(try worker.answer(depth), try alone(original, depth), "depth step after forgetting")
        XCTAssertEqual(worker.blocksRun, 4 + 3, "the depth candidate resumed from a forgotten block input")
        let influence = ScoringRequest.blockInfluence(current: identity, fold: nil)
        assertClose(try worker.answer(influence), try alone(original, influence), "influence after forgetting")
        XCTAssertEqual(worker.blocksRun, 4 + 3 + 4, "the influence came from a forgotten pass")
    }

    func testKeptBlocksFollowTheBudgetFromTheLastBlockDown() {
        XCTAssertEqual(BlockInputs(layers: 30, blockBytes: 10, budget: 1000).blocks, Array(1..<30))
        XCTAssertEqual(BlockInputs(layers: 30, blockBytes: 10, budget: 20).blocks, [14, 29])
        XCTAssertEqual(BlockInputs(layers: 30, blockBytes: 10, budget: 50).blocks, [5, 11, 17, 23, 29])
        XCTAssertEqual(BlockInputs(layers: 30, blockBytes: 10, budget: 9).blocks, [])
        XCTAssertEqual(BlockInputs(layers: 1, blockBytes: 10, budget: 1000).blocks, [])
        let inputs = BlockInputs(layers: 30, blockBytes: 10, budget: 20)
        XCTAssertNil(inputs.resumption(atOrBefore: 13))
        XCTAssertEqual(inputs.resumption(atOrBefore: 14)?.block, 14)
        XCTAssertEqual(inputs.resumption(atOrBefore: 28)?.block, 14)
        XCTAssertEqual(inputs.resumption(atOrBefore: 30)?.block, 29)
    }

    func testTheFirstChangedBlockOfAMask() throws {
        XCTAssertEqual(BlockInputs.firstChanged(by: ModelMask(unmasked: config)), 4)
        XCTAssertEqual(BlockInputs.firstChanged(by: try ModelMask(step: Self.removing(2, from: config), config: config)), 2)
        var heads = PruningStructure.identity(config)
        heads.layers[1].heads = [1]
        heads.layers[1].kvHeads = [1]
        XCTAssertEqual(BlockInputs.firstChanged(by: try ModelMask(step: heads, config: config)), 1)
        var neurons = PruningStructure.identity(config)
        neurons.layers[3].neurons.removeLast()
        XCTAssertEqual(BlockInputs.firstChanged(by: try ModelMask(step: neurons, config: config)), 3)
    }

    static func removing(_ block: Int, from config: ModelConfig) -> PruningStructure {
        var step = PruningStructure.identity(config)
        step.layers.remove(at: block)
        step.path = "L"
        return step
    }
}
