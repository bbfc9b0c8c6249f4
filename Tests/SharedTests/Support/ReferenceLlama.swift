import Foundation
@testable import Shared

/// A plain float64 forward pass of every family written from the formulas, loop by loop, with no shared code from
/// the engine (it reads only weights and the family's facts: norm offset, q/k norms and sandwich norms where the
/// table has them, activation, embedding scale, per-layer RoPE base and window): the yardstick the BLAS engine is
/// checked against.
enum ReferenceLlama {
    /// Logits [T][V] of one sequence.
    static func logits(_ w: ModelWeights, tokens: [Int32]) -> [[Double]] {
        let c = w.config, d = c.hidden, hd = c.headDim, T = tokens.count
        func vec(_ t: Tensor) -> [Double] { t.data.map(Double.init) }
        func matvec(_ m: Tensor, _ x: [Double]) -> [Double] {
            (0..<m.rows).map { r in (0..<m.cols).reduce(0.0) { $0 + Double(m.data[r * m.cols + $1]) * x[$1] } }
        }
        func plusBias(_ y: [Double], _ bias: Tensor?) -> [Double] { bias.map { zip(y, vec($0)).map(+) } ?? y }
        let offset = Double(c.architecture.normWeightOffset)
        func rmsnorm(_ x: [Double], _ weight: Tensor) -> [Double] {
            let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
            let inv = 1 / (ms + Double(c.rmsNormEps)).squareRoot()
            return zip(x, vec(weight)).map { $0 * inv * (offset + $1) }
        }
        /// The family's norm: RMSNorm, or LayerNorm with its bias (Phi).
        func norm(_ x: [Double], _ weight: Tensor, _ bias: Tensor? = nil) -> [Double] {
            guard c.architecture.norm == .layer else { return rmsnorm(x, weight) }
            let mean = x.reduce(0, +) / Double(x.count)
            let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
            let inv = 1 / (variance + Double(c.rmsNormEps)).squareRoot()
            return (0..<x.count).map { (x[$0] - mean) * inv * Double(weight.data[$0]) + Double(bias?.data[$0] ?? 0) }
        }
        /// Every head of a row normed by itself (q/k norms).
        func headNorm(_ x: [Double], _ weight: Tensor?) -> [Double] {
            guard let weight else { return x }
            return (0..<(x.count / hd)).flatMap { norm(Array(x[$0 * hd..<($0 + 1) * hd]), weight) }
        }
        var theta = Double(c.ropeTheta)
        let r = c.rotaryDimensions
        /// The first r elements rotate in pairs (i, i + r/2); the rest pass (Phi's partial rotary).
        func rope(_ head: [Double], position: Int) -> [Double] {
            var out = head
            for i in 0..<r / 2 {
                let angle = Double(position) * pow(theta, -2 * Double(i) / Double(r))
                out[i] = head[i] * cos(angle) - head[i + r / 2] * sin(angle)
                out[i + r / 2] = head[i + r / 2] * cos(angle) + head[i] * sin(angle)
            }
            return out
        }
        let embeddingScale = Double(c.architecture.embeddingScale(c) ?? 1)
        var x: [[Double]] = tokens.map { t in (0..<d).map { Double(w.embedding.data[Int(t) * d + $0]) * embeddingScale } }
        for (l, layer) in w.layers.enumerated() {
            let shape = c.layers[l]
            theta = Double(c.attention(layer: l).ropeTheta)
            let window = c.attention(layer: l).window ?? T
            let scale = c.attentionScale.map(Double.init) ?? 1 / Double(hd).squareRoot()
            let h = x.map { norm($0, layer[.attentionNorm]!, layer[.attentionNormBias]) }
            let q = h.map { headNorm(plusBias(matvec(layer[.q]!, $0), layer[.qBias]), layer[.qNorm]) }
            let k = h.map { headNorm(plusBias(matvec(layer[.k]!, $0), layer[.kBias]), layer[.kNorm]) }
            let v = h.map { plusBias(matvec(layer[.v]!, $0), layer[.vBias]) }
            var z = [[Double]](repeating: [Double](repeating: 0, count: shape.heads * hd), count: T)
            for head in 0..<shape.heads {
                let g = head / (shape.heads / shape.kvHeads)
                for t in 0..<T {
                    let qt = rope(Array(q[t][head * hd..<(head + 1) * hd]), position: t)
                    let seen = max(0, t + 1 - window)...t
                    var scores = seen.map { s -> Double in
                        let ks = rope(Array(k[s][g * hd..<(g + 1) * hd]), position: s)
                        return zip(qt, ks).reduce(0) { $0 + $1.0 * $1.1 } * scale
                    }
                    let m = scores.max()!
                    scores = scores.map { exp($0 - m) }
                    let total = scores.reduce(0, +)
                    for (j, s) in seen.enumerated() {
                        for i in 0..<hd { z[t][head * hd + i] += scores[j] / total * v[s][g * hd + i] }
                    }
                }
            }
            // Sandwich norms (Gemma) norm each branch before it joins the stream.
            func branch(_ y: [Double], _ role: BlockTensor.Role) -> [Double] { layer[role].map { norm(y, $0) } ?? y }
            for t in 0..<T { x[t] = zip(x[t], branch(plusBias(matvec(layer[.o]!, z[t]), layer[.oBias]), .postAttentionNorm)).map(+) }
            for t in 0..<T {
                // Without an MLP norm the MLP reads the attention's input (Phi's parallel block).
                let h2 = layer[.mlpNorm].map { norm(x[t], $0) } ?? h[t]
                let up = plusBias(matvec(layer[.up]!, h2), layer[.upBias])
                let act = { ReferenceOps.activation(c.architecture.activation, $0) }
                let a = layer[.gate].map { zip(matvec($0, h2), up).map { act($0) * $1 } } ?? up.map(act)
                x[t] = zip(x[t], branch(plusBias(matvec(layer[.down]!, a), layer[.downBias]), .postMLPNorm)).map(+)
            }
        }
        return x.map { ReferenceOps.softCap(plusBias(matvec(w.outputMatrix, norm($0, w.finalNorm, w.finalNormBias)), w.outputBias),
                                            c.finalLogitSoftCap) }
    }

    /// Summed next-token NLL of one sequence from the reference logits.
    static func negativeLogLikelihood(_ w: ModelWeights, tokens: [Int32]) -> Double {
        let logits = logits(w, tokens: tokens)
        return (0..<(tokens.count - 1)).reduce(0.0) { total, t in
            let row = logits[t], m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            return total + lse - row[Int(tokens[t + 1])]
        }
    }
}

/// Tiny configurations the tests build random models from.
enum TinyConfigs {
    static func make(heads: Int, kvHeads: Int, tied: Bool, layers: [LayerShape]? = nil) -> ModelConfig {
        let shapes = layers ?? [LayerShape](repeating: LayerShape(heads: heads, kvHeads: kvHeads, intermediate: 48), count: 2)
        return ModelConfig(vocabSize: 61, hidden: 32, headDim: 8, layers: shapes, rmsNormEps: 1e-5,
                           ropeTheta: 10000, tiedEmbeddings: tied, maxPositions: 64)
    }

    static let mha = make(heads: 4, kvHeads: 4, tied: false)
    static let gqa = make(heads: 4, kvHeads: 2, tied: true)
    static let nonUniform = make(heads: 4, kvHeads: 2, tied: true, layers: [
        LayerShape(heads: 4, kvHeads: 2, intermediate: 48),
        LayerShape(heads: 2, kvHeads: 1, intermediate: 20),
        LayerShape(heads: 3, kvHeads: 3, intermediate: 7),
    ])
    /// Qwen3: per-head q/k RMSNorm, no biases, an untied head.
    static let qwen3: ModelConfig = {
        var config = make(heads: 4, kvHeads: 2, tied: false)
        config.architecture = .qwen3
        config.ropeTheta = 1_000_000
        return config
    }()
    /// Gemma-3: sandwich (1 + w) norms, q/k norms, GeGLU, scaled embeddings, a tied head, a query scale of its own,
    /// and three layers: two sliding (window 3, base 10k) around a global one (base 1e6).
    static let gemma3: ModelConfig = {
        var config = make(heads: 4, kvHeads: 2, tied: true, layers: [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 40), count: 3))
        config.architecture = .gemma3
        config.ropeTheta = 1_000_000
        config.attentionScale = 0.2
        config.layerAttention = [LayerAttention(ropeTheta: 10000, window: 3), LayerAttention(ropeTheta: 1_000_000),
                                 LayerAttention(ropeTheta: 10000, window: 3)]
        return config
    }()
    /// Phi: LayerNorm with biases, the parallel block, a plain GELU MLP, biases everywhere (head too), partial
    /// rotary (6 of 8 elements), layers that differ.
    static let phi: ModelConfig = {
        var config = make(heads: 4, kvHeads: 2, tied: false, layers: [
            LayerShape(heads: 4, kvHeads: 2, intermediate: 48),
            LayerShape(heads: 2, kvHeads: 1, intermediate: 20),
        ])
        config.architecture = .phi
        config.rotaryDims = 6
        return config
    }()
    /// Qwen2: q/k/v biases, an untied head, GQA, layers that differ.
    static let qwen2: ModelConfig = {
        var config = make(heads: 4, kvHeads: 2, tied: false, layers: [
            LayerShape(heads: 4, kvHeads: 2, intermediate: 48),
            LayerShape(heads: 2, kvHeads: 1, intermediate: 20),
        ])
        config.architecture = .qwen2
        config.ropeTheta = 1_000_000
        return config
    }()
    /// Gemma-3 with a final logit soft-cap small enough to bend the tiny model's logits.
    static let gemma3Capped: ModelConfig = {
        var config = gemma3
        config.finalLogitSoftCap = 0.8
        return config
    }()
    static var all: [(String, ModelConfig)] {
        [("mha-untied", mha), ("gqa-tied", gqa), ("non-uniform", nonUniform), ("qwen2", qwen2), ("qwen3", qwen3),
         ("gemma3", gemma3), ("gemma3-capped", gemma3Capped), ("phi", phi)]
    }

    static func tokens(count: Int, vocab: Int, seed: UInt64) -> [Int32] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % UInt64(vocab)) }
    }
}

/// max |a - b| / max |b|: the relative error of a whole tensor (elementwise ratios blow up at zero crossings).
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let scale = b.map(abs).max() ?? 0
    let diff = zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
    return diff / max(scale, 1e-30)
}
