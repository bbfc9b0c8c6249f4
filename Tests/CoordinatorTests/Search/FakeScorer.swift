import Foundation
import Shared

/// Tiny models for the coordinator tests: hidden 32, head dim 8, intermediate 48, vocabulary 61.
enum TinyModels {
    static func config(layers: Int = 6, heads: Int = 4, kvHeads: Int = 2, tied: Bool = true) -> ModelConfig {
        ModelConfig(vocabSize: 61, hidden: 32, headDim: 8,
                    layers: Array(repeating: LayerShape(heads: heads, kvHeads: kvHeads, intermediate: 48), count: layers),
                    tiedEmbeddings: tied, maxPositions: 64)
    }

    static func tokens(count: Int, vocab: Int, seed: UInt64) -> [Int32] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % UInt64(vocab)) }
    }
}

/// Answers `ScoringRequest`s the way the workers do, on one process: real losses, KL, AMP statistics and block
/// influence of a tiny random model over a few random sequences. Counts the requests it answered.
final class FakeScorer {
    let original: ModelWeights
    let batch: [[Int32]]
    private(set) var requests: [ScoringRequest] = []

    init(config: ModelConfig, seed: UInt64 = 7) {
        original = ModelWeights.random(config: config, seed: seed)
        batch = (0..<4).map { TinyModels.tokens(count: 12, vocab: config.vocabSize, seed: seed &+ UInt64($0) &+ 100) }
    }

    var config: ModelConfig { original.config }

    func callAsFunction(_ request: ScoringRequest) throws -> [Double] {
        requests.append(request)
        switch request {
        case let .loss(current, step, fold):
            let (model, mask) = try prepare(current, step)
            let result = NextTokenLoss.sum(model, batch: sequences(fold), mask: mask)
            return [result.negativeLogLikelihood, Double(result.tokens)]
        case let .klDivergence(current, step, fold):
            let (model, mask) = try prepare(current, step)
            let dense = Transformer(weights: original)
            var total = 0.0, tokens = 0
            for sequence in sequences(fold) {
                let p = dense.logits(sequence), q = model.logits(sequence, mask: mask)
                for t in 0..<(sequence.count - 1) {
                    total += Self.kl(Array(p.data[t * p.cols..<(t + 1) * p.cols]), Array(q.data[t * q.cols..<(t + 1) * q.cols]))
                    tokens += 1
                }
            }
            return [total, Double(tokens)]
        case let .ampStatistics(current, fold):
            let (model, _) = try prepare(current, nil)
            let observer = AMPObserver(weights: model.weights)
            for sequence in sequences(fold) { _ = model.hiddenStates([sequence], observer: observer) }
            return AMPScores.pack(headSums: observer.heads, neuronSums: observer.neurons, prompts: sequences(fold).count)
        case let .blockInfluence(current, fold):
            let (model, _) = try prepare(current, nil)
            let observer = InfluenceObserver(layers: model.config.layers.count)
            _ = model.hiddenStates(sequences(fold), observer: observer)
            return observer.sums + [Double(observer.tokens)]
        case .quantImportance:
            throw MopError("the search never asks for a quantization importance")
        case .stop:
            return []
        }
    }

    /// The batch's sequences of `fold` (nil: all), as a worker holding the whole set would run them.
    private func sequences(_ fold: CalibrationFold?) -> [[Int32]] {
        batch.indices.filter { fold?.contains($0) ?? true }.map { batch[$0] }
    }

    private func prepare(_ current: PruningStructure, _ step: PruningStructure?) throws -> (Transformer, ModelMask?) {
        let model = Transformer(weights: try current.apply(to: original))
        return (model, try step.map { try ModelMask(step: $0, config: model.config) })
    }

    static func kl(_ p: [Float], _ q: [Float]) -> Double {
        func logSoftmax(_ x: [Float]) -> [Double] {
            let m = Double(x.max() ?? 0)
            let lse = m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
            return x.map { Double($0) - lse }
        }
        let lp = logSoftmax(p), lq = logSoftmax(q)
        return zip(lp, lq).reduce(0.0) { $0 + exp($1.0) * ($1.0 - $1.1) }
    }
}

/// AMP statistics by their definition (docs/design.md#amp-width-pruning), summed over prompts (one sequence per forward
/// pass).
final class AMPObserver: ForwardObserver {
    let weights: ModelWeights
    var heads: [[Double]]
    var neurons: [[Double]]

    init(weights: ModelWeights) {
        self.weights = weights
        heads = weights.config.layers.map { [Double](repeating: 0, count: $0.heads) }
        neurons = weights.config.layers.map { [Double](repeating: 0, count: $0.intermediate) }
    }

    func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>]) {
        let d = weights.config.hidden, hd = weights.config.headDim, o = weights.layers[layer][.o]!
        let width = o.cols, rows = z.count / width
        for n in 0..<(width / hd) {
            var sum = 0.0
            for t in 0..<rows {
                for i in 0..<d {
                    var c: Float = 0
                    for j in 0..<hd { c += z[t * width + n * hd + j] * o.data[i * width + n * hd + j] }
                    sum += Double(abs(c))
                }
            }
            heads[layer][n] += sum / Double(rows)
        }
    }

    func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) {
        let width = neurons[layer].count, rows = a.count / width
        for m in 0..<width {
            neurons[layer][m] += (0..<rows).reduce(0.0) { $0 + Double(abs(a[$1 * width + m])) } / Double(rows)
        }
    }
}

/// Sum over tokens of 1 - cos(block input, block output) per block.
final class InfluenceObserver: ForwardObserver {
    var sums: [Double]
    var tokens = 0

    init(layers: Int) { sums = [Double](repeating: 0, count: layers) }

    func block(layer: Int, input: [Float], output: [Float], segments: [Range<Int>]) {
        let rows = segments.last?.upperBound ?? 0, d = input.count / max(rows, 1)
        for t in 0..<rows {
            var dot = 0.0, a = 0.0, b = 0.0
            for i in 0..<d {
                let x = Double(input[t * d + i]), y = Double(output[t * d + i])
                dot += x * y; a += x * x; b += y * y
            }
            sums[layer] += 1 - dot / (a * b).squareRoot()
        }
        if layer == 0 { tokens += rows }
    }
}
