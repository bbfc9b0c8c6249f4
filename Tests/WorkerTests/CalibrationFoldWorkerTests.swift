import XCTest
import Shared
@testable import Worker

/// A question about one calibration fold is the same question about that fold's sequences alone, wherever the shard
/// boundaries fall: a cross-fitted search's numbers do not depend on the ranks.
final class CalibrationFoldWorkerTests: XCTestCase {
    let config = ModelConfig(vocabSize: 41, hidden: 16, headDim: 4,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 20),
                                      LayerShape(heads: 4, kvHeads: 2, intermediate: 12),
                                      LayerShape(heads: 4, kvHeads: 4, intermediate: 16)],
                             tiedEmbeddings: false, maxPositions: 64)

    func testAFoldIsItsSequencesAloneAndTheFoldsAddUpToTheWholeSet() throws {
        let original = ModelWeights.random(config: config, seed: 21)
        var rng = SeededRandom(seed: 22)
        let sequences: [[Int32]] = [9, 23, 4, 17, 30, 12, 2].map { n in (0..<n).map { _ in Int32(rng.next() % 41) } }
        var width = PruningStructure.identity(config)
        width.layers[1].heads = [0, 3]
        width.layers[1].kvHeads = [0, 1]
        width.layers[2].neurons.removeLast(5)
        let identity = PruningStructure.identity(config)
        func questions(_ fold: CalibrationFold?) -> [ScoringRequest] {
            [.loss(current: identity, step: width, fold: fold), .klDivergence(current: identity, step: width, fold: fold),
             .ampStatistics(current: identity, fold: fold), .blockInfluence(current: identity, fold: fold)]
        }
        let whole = try questions(nil).map(CalibrationWorker(original: original, sequences: sequences, file: "m.gguf").answer)
        for count in [2, 3] {
            var added = whole.map { [Double](repeating: 0, count: $0.count) }
            for fold in CalibrationFold.all(count) {
                // Sequences 0, 2, 4, 6 or 1, 3, 5 (of two folds), asked of a worker that holds only them.
                let alone = sequences.indices.filter { $0 % count == fold.index }.map { sequences[$0] }
                let expected = try questions(nil).map(CalibrationWorker(original: original, sequences: alone, file: "m.gguf").answer)
                // The same fold over three shards, each knowing where it starts in the whole set.
                var sharded = expected.map { [Double](repeating: 0, count: $0.count) }
                for shard in [0..<3, 3..<4, 4..<7] {
                    let worker = CalibrationWorker(original: original, sequences: Array(sequences[shard]),
                                                   firstSequence: shard.lowerBound, file: "m.gguf")
                    for (index, question) in questions(fold).enumerated() {
                        sharded[index] = zip(sharded[index], try worker.answer(question)).map(+)
                    }
                }
                for (index, question) in questions(fold).enumerated() {
                    assertClose(sharded[index], expected[index], "\(question)")
                    added[index] = zip(added[index], sharded[index]).map(+)
                }
            }
            // AMP statistics are per-prompt means summed, so the folds' sums are the whole set's sums.
            for (index, question) in questions(nil).enumerated() { assertClose(added[index], whole[index], "\(question)") }
            XCTAssertEqual(added[0][1], Double(sequences.reduce(0) { $0 + $1.count - 1 }), "every target scored once")
        }
    }

    func testAShardWithNoSequenceOfTheFoldAnswersZeros() throws {
        let original = ModelWeights.random(config: config, seed: 1)
        let worker = CalibrationWorker(original: original, sequences: [[1, 2, 3]], firstSequence: 5, file: "m.gguf")
        let identity = PruningStructure.identity(config)
        XCTAssertEqual(try worker.answer(.loss(current: identity, step: nil, fold: CalibrationFold(0, of: 2))), [0, 0])
        XCTAssertEqual(try worker.answer(.loss(current: identity, step: nil, fold: CalibrationFold(1, of: 2)))[1], 2)
    }

    private func assertClose(_ got: [Double], _ want: [Double], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, message, file: file, line: line)
        for (x, y) in zip(got, want) { XCTAssertEqual(x, y, accuracy: 1e-9 * max(1, abs(y)), message, file: file, line: line) }
    }
}
