import XCTest
import Shared
@testable import Worker

/// Records what the forward pass shows an observer, so the statistics can be recomputed naively.
final class Recorder: ForwardObserver {
    var z: [Int: [Float]] = [:], a: [Int: [Float]] = [:], io: [Int: ([Float], [Float])] = [:]
    func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>]) { self.z[layer] = z }
    func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) { self.a[layer] = a }
    func block(layer: Int, input: [Float], output: [Float], segments: [Range<Int>]) { io[layer] = (input, output) }
}

final class WorkerTests: XCTestCase {
    let config = ModelConfig(vocabSize: 53, hidden: 24, headDim: 6,
                             layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 30),
                                      LayerShape(heads: 2, kvHeads: 2, intermediate: 11),
                                      LayerShape(heads: 4, kvHeads: 1, intermediate: 20)],
                             tiedEmbeddings: true, maxPositions: 64)
    func batch(_ seed: UInt64) -> [[Int32]] {
        var rng = SeededRandom(seed: seed)
        return [7, 15, 3].map { n in (0..<n).map { _ in Int32(rng.next() % 53) } }
    }

    func testAMPStatisticsEqualTheFormulaComputedNaively() {
        let weights = ModelWeights.random(config: config, seed: 3)
        let model = Transformer(weights: weights), prompts = batch(1)
        let recorder = Recorder()
        _ = model.hiddenStates(prompts, observer: recorder)
        let statistics = AMPStatistics(weights: weights)
        _ = model.hiddenStates(prompts, observer: statistics)
        let scores = AMPScores(packedSums: statistics.packed(prompts: prompts.count), config: config)
        let segments = Transformer.segments(prompts)
        let d = config.hidden, hd = config.headDim
        for (l, shape) in config.layers.enumerated() {
            let z = recorder.z[l]!, a = recorder.a[l]!, o = weights.layers[l][.o]!, width = shape.heads * hd
            for n in 0..<shape.heads {
                // mean over prompts of mean over tokens of sum_j |sum_i z[t, n hd + i] W_O[j, n hd + i]|
                func contributionL1(_ t: Int) -> Double {
                    var total = 0.0
                    for j in 0..<d {
                        var c = 0.0
                        for i in 0..<hd { c += Double(z[t * width + n * hd + i]) * Double(o.data[j * width + n * hd + i]) }
                        total += abs(c)
                    }
                    return total
                }
                var expected = 0.0
                for segment in segments { expected += segment.map(contributionL1).reduce(0, +) / Double(segment.count) }
                expected /= Double(segments.count)
                XCTAssertEqual(scores.heads[l][n], expected, accuracy: 1e-5 * expected)
            }
            for m in 0..<shape.intermediate {
                let expected = segments.map { segment in
                    segment.map { Double(abs(a[$0 * shape.intermediate + m])) }.reduce(0, +) / Double(segment.count)
                }.reduce(0, +) / Double(segments.count)
                XCTAssertEqual(scores.neurons[l][m], expected, accuracy: 1e-9 + 1e-6 * expected)
            }
        }
    }

    func testBlockInfluenceIsOneMinusCosineSummedOverTokens() {
        let model = Transformer(weights: .random(config: config, seed: 4)), tokens = batch(2)
        let recorder = Recorder()
        _ = model.hiddenStates(tokens, observer: recorder)
        let influence = BlockInfluence(layers: config.layers.count)
        _ = model.hiddenStates(tokens, observer: influence)
        let packed = influence.packed(tokens: 25)
        XCTAssertEqual(packed.last, 25)
        for l in 0..<3 {
            let (input, output) = recorder.io[l]!
            let d = config.hidden
            let expected = (0..<25).map { t -> Double in
                let x = input[(t * d)..<((t + 1) * d)].map(Double.init), y = output[(t * d)..<((t + 1) * d)].map(Double.init)
                let dot = zip(x, y).map(*).reduce(0, +)
                return 1 - dot / (x.map { $0 * $0 }.reduce(0, +) * y.map { $0 * $0 }.reduce(0, +)).squareRoot()
            }.reduce(0, +)
            XCTAssertEqual(packed[l], expected, accuracy: 1e-9)
        }
    }

    func testWorkerAnswersEqualThePhysicallyPrunedModel() throws {
        let original = ModelWeights.random(config: config, seed: 5)
        let sequences = batch(3)
        let worker = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
        var current = PruningStructure.identity(config)
        current.layers.remove(at: 1)
        current.path = "L"
        let pruned = try current.apply(to: original)
        var step = PruningStructure.identity(pruned.config)
        step.layers[0].neurons.removeLast(10)
        let answer = try worker.answer(.loss(current: current, step: step))
        let expected = NextTokenLoss.sum(Transformer(weights: try step.apply(to: pruned)), batch: sequences)
        XCTAssertEqual(answer[0], expected.negativeLogLikelihood, accuracy: 1e-5 * expected.negativeLogLikelihood)
        XCTAssertEqual(answer[1], Double(expected.tokens))

        // KL of the dense model against itself is zero; against the pruned one it is the naive sum over positions.
        XCTAssertEqual(try worker.answer(.klDivergence(current: .identity(config), step: nil))[0], 0, accuracy: 1e-6)
        let kl = try worker.answer(.klDivergence(current: current, step: nil))
        var naive = 0.0
        for sequence in sequences {
            let p = Transformer(weights: original).logits(sequence), q = Transformer(weights: pruned).logits(sequence)
            for t in 0..<(sequence.count - 1) {
                let pr = p.data[(t * 53)..<((t + 1) * 53)].map(Double.init), qr = q.data[(t * 53)..<((t + 1) * 53)].map(Double.init)
                let lp = log(pr.map { exp($0) }.reduce(0, +)), lq = log(qr.map { exp($0) }.reduce(0, +))
                naive += zip(pr, qr).map { exp($0 - lp) * (($0 - lp) - ($1 - lq)) }.reduce(0, +)
            }
        }
        XCTAssertEqual(kl[0], naive, accuracy: 1e-4 * naive)
        XCTAssertEqual(kl[1], 22)
    }

    /// A candidate's loss and KL come from one forward pass; asked in any order, each answer equals the one a fresh
    /// worker gives to that question alone.
    func testLossAndKLOfACandidateAnswerAsIfAskedAlone() throws {
        let original = ModelWeights.random(config: config, seed: 5), sequences = batch(4)
        let current = PruningStructure.identity(config)
        var first = current, second = current
        first.layers[0].neurons.removeLast(12)
        second.layers.remove(at: 2)
        let questions: [ScoringRequest] = [.loss(current: current, step: first), .klDivergence(current: current, step: first),
                                           .loss(current: current, step: second), .klDivergence(current: current, step: first),
                                           .klDivergence(current: current, step: second), .loss(current: current, step: first)]
        let worker = CalibrationWorker(original: original, sequences: sequences, file: "m.gguf")
        for question in questions {
            let alone = try CalibrationWorker(original: original, sequences: sequences, file: "m.gguf").answer(question)
            XCTAssertEqual(try worker.answer(question), alone, "\(question)")
        }
    }

    func testEmptyShardAnswersZerosOfTheRightLength() throws {
        let worker = CalibrationWorker(original: .random(config: config, seed: 1), sequences: [], file: "m.gguf")
        let identity = PruningStructure.identity(config)
        XCTAssertEqual(try worker.answer(.loss(current: identity, step: nil)), [0, 0])
        XCTAssertEqual(try worker.answer(.blockInfluence(current: identity)), [0, 0, 0, 0])
        XCTAssertEqual(try worker.answer(.ampStatistics(current: identity)).count, 10 + 61 + 1)
    }
}
