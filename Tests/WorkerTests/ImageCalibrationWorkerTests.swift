import Foundation
import XCTest
import TestSupport
@testable import Shared
@testable import Worker

/// Image-text calibration (docs/design.md#image-text-calibration): a worker whose sequences carry image feature rows
/// answers as the model run on input embeddings with those rows put in place, the image rows never a prediction
/// target; and sharded over ranks, split into pipeline stages or into folds, its sums are the whole set's.
final class ImageCalibrationWorkerTests: XCTestCase {
    let config = PipelineTestModel.config

    /// Five sequences, three holding an image of a few feature rows (random values of the embeddings' size).
    func calibration() -> (sequences: [[Int32]], features: [FeatureRows?]) {
        var rng = SeededRandom(seed: 31)
        let sequences: [[Int32]] = [14, 9, 21, 6, 17].map { n in (0..<n).map { _ in Int32(rng.next() % 41) } }
        let places: [Range<Int>?] = [2..<7, nil, 1..<5, nil, 9..<16]
        let features = places.map { place in
            place.map { FeatureRows(rows: $0, values: (0..<($0.count * 16)).map { _ in rng.uniform(1) }) }
        }
        return (sequences, features)
    }

    /// The input embeddings of one sequence built here: its token rows, then its feature rows written over them.
    func inputs(_ model: Transformer, _ sequence: [Int32], _ feature: FeatureRows?) -> [Float] {
        var x = model.embed([sequence])
        let d = config.hidden
        if let feature {
            for (i, row) in feature.rows.enumerated() {
                for j in 0..<d { x[row * d + j] = feature.values[i * d + j] }
            }
        }
        return x
    }

    func testLossAndAMPStatisticsAreThoseOfTheEmbeddingsWithTheFeaturesInPlace() throws {
        let original = ModelWeights.random(config: config, seed: 32)
        let model = Transformer(weights: original)
        let (sequences, features) = calibration()
        let identity = PruningStructure.identity(config)
        let worker = CalibrationWorker(original: original, sequences: sequences, features: features, file: "m.gguf")
        let loss = try worker.answer(.loss(current: identity, step: nil))
        let statistics = try worker.answer(.ampStatistics(current: identity))

        // Naive: each sequence alone, logits of every row, log-softmax in float64, no target inside an image.
        var negativeLogLikelihood = 0.0, targets = 0
        let reference = AMPStatistics(weights: original)
        for (sequence, feature) in zip(sequences, features) {
            var x = inputs(model, sequence, feature)
            model.runBlocks(config.layers.indices, &x, segments: [0..<sequence.count], observer: reference)
            let logits = model.head(model.finalNorm(x)), vocab = config.vocabSize
            for t in 0..<(sequence.count - 1) where !(feature?.rows.contains(t + 1) ?? false) {
                let row = logits[(t * vocab)..<((t + 1) * vocab)].map(Double.init)
                let top = row.max()!
                negativeLogLikelihood += top + log(row.reduce(0) { $0 + exp($1 - top) }) - row[Int(sequence[t + 1])]
                targets += 1
            }
        }
        // 62 next-token positions, less the 5 + 4 + 7 that would predict an image row.
        XCTAssertEqual(targets, 62 - 16)
        XCTAssertEqual(loss[1], Double(targets))
        XCTAssertEqual(loss[0], negativeLogLikelihood, accuracy: 1e-5 * negativeLogLikelihood)
        let expected = reference.packed(prompts: sequences.count)
        XCTAssertEqual(statistics.count, expected.count)
        for (x, y) in zip(statistics, expected) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y))) }

        // The images matter: without their rows the same tokens give another loss and other statistics.
        let text = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
        let textLoss = try text.answer(.loss(current: identity, step: nil))
        XCTAssertGreaterThan(abs(textLoss[0] / textLoss[1] - loss[0] / loss[1]), 1e-2)
        let textStatistics = try text.answer(.ampStatistics(current: identity))
        XCTAssertGreaterThan(zip(textStatistics, statistics).map { abs($0 - $1) }.max()!, 1e-3)
    }

    /// Two ranks of whole models, 2 stages, 2 stages x 2 replicas and a cross-fit fold: the sums equal one worker's.
    /// A later stage holds the rows without their values (as `ImageFeatureBroadcast` leaves it): it never embeds.
    func testShardsStagesAndFoldsAnswerAsOneWorker() throws {
        let original = ModelWeights.random(config: config, seed: 33)
        let (sequences, features) = calibration()
        let identity = PruningStructure.identity(config)
        var width = PruningStructure.identity(config)
        width.layers[2].heads = [0, 1]
        width.layers[2].kvHeads = [0]
        width.layers[4].neurons.removeLast(9)
        var depth = identity
        depth.layers.remove(at: 4)
        let fold = CalibrationFold(1, of: 2)
        let requests: [ScoringRequest] = [
            .loss(current: identity, step: nil), .ampStatistics(current: identity), .blockInfluence(current: identity),
            .loss(current: identity, step: width), .klDivergence(current: identity, step: width),
            .loss(current: identity, step: depth), .loss(current: identity, step: width, fold: fold),
            .ampStatistics(current: identity, fold: fold),
        ]
        let expected = try requests.map(CalibrationWorker(original: original, sequences: sequences, features: features,
                                                          file: "m.gguf").answer)
        let costs = sequences.map(\.count), config = config
        for (stages, ranks) in [(1, 2), (2, 2), (2, 4)] {
            let layout = stages > 1 ? try PipelineLayout(stages: stages, ranks: ranks, blocks: config.layers.count) : nil
            let answers = try ThreadedCluster.run(ranks: ranks) { communicator -> [[Double]] in
                let stage = layout.map { PipelineStage(layout: $0, config: config, communicator: communicator) }
                let shard = Sharding.range(costs: costs, rank: layout?.replica(ofRank: communicator.rank) ?? communicator.rank,
                                           size: layout?.replicas ?? ranks)
                let embeds = layout.map { $0.stage(ofRank: communicator.rank) == 0 } ?? true
                let worker = CalibrationWorker(original: stage.map { original.poisoned(outside: $0.part) } ?? original,
                                               sequences: Array(sequences[shard]),
                                               features: features[shard].map { embeds ? $0 : $0?.withoutValues },
                                               firstSequence: shard.lowerBound, file: "m.gguf", stage: stage)
                return try requests.map { request in
                    var answer = try worker.answer(request)
                    communicator.reduceSum(&answer, root: 0)
                    return answer
                }
            }
            for (request, (got, want)) in zip(requests, zip(answers[0], expected)) {
                XCTAssertEqual(got.count, want.count, "\(stages) x \(ranks / stages): \(request)")
                for (x, y) in zip(got, want) {
                    XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), "\(stages) x \(ranks / stages): \(request)")
                }
            }
        }
    }
}
