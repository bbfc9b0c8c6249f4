import Foundation
@testable import Shared

/// Float64 operations written from the formulas, and a float64 LLaMA loss with LoRA adapters built from them:
/// the functions finite differences are taken of. No engine code is used beyond reading weights and layouts.
enum ReferenceOps {
    /// x / sqrt(mean(x^2) + eps) * (offset + w) for one row.
    static func rmsnorm(_ x: [Double], _ w: [Double], eps: Double, offset: Double = 0) -> [Double] {
        let inv = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + eps).squareRoot()
        return (0..<x.count).map { x[$0] * inv * (offset + w[$0]) }
    }

    /// The MLP activation of a family.
    static func activation(_ kind: Activation, _ g: Double) -> Double {
        switch kind {
        case .silu: silu(g)
        case .geluTanh: 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g)))
        case .geluErf: 0.5 * g * (1 + erf(g / 2.0.squareRoot()))
        case .quickGelu: g / (1 + exp(-1.702 * g))
        }
    }

    /// rotate_half RoPE of every head of one row at `position`.
    /// Only the first `rotary` elements of each head rotate, in pairs (i, i + rotary/2), when given (partial rotary).
    static func rope(_ row: [Double], heads: Int, headDim hd: Int, position: Int, theta: Double, rotary: Int? = nil) -> [Double] {
        var out = row
        let r = rotary ?? hd
        for h in 0..<heads {
            for i in 0..<r / 2 {
                let angle = Double(position) * pow(theta, -2 * Double(i) / Double(r))
                let a = row[h * hd + i], b = row[h * hd + i + r / 2]
                out[h * hd + i] = a * cos(angle) - b * sin(angle)
                out[h * hd + i + r / 2] = b * cos(angle) + a * sin(angle)
            }
        }
        return out
    }

    /// (x - mean) / sqrt(var + eps) * w + b for one row.
    static func layernorm(_ x: [Double], _ w: [Double], _ b: [Double]?, eps: Double) -> [Double] {
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
        let inv = 1 / (variance + eps).squareRoot()
        return (0..<x.count).map { (x[$0] - mean) * inv * w[$0] + (b?[$0] ?? 0) }
    }

    /// Causal GQA attention of one sequence: q [T][H*hd], k and v [T][KV*hd] -> z [T][H*hd]; scores scaled by
    /// `scale` (1/sqrt(hd) when nil), each query seeing the last `window` positions (all when nil).
    static func attention(q: [[Double]], k: [[Double]], v: [[Double]], heads: Int, kvHeads: Int, headDim hd: Int,
                          scale: Double? = nil, window: Int? = nil) -> [[Double]] {
        let T = q.count, scale = scale ?? 1 / Double(hd).squareRoot()
        var z = [[Double]](repeating: [Double](repeating: 0, count: heads * hd), count: T)
        for h in 0..<heads {
            let g = h / (heads / kvHeads)
            for t in 0..<T {
                let seen = max(0, t + 1 - (window ?? T))...t
                var scores = seen.map { s in (0..<hd).reduce(0.0) { $0 + q[t][h * hd + $1] * k[s][g * hd + $1] } * scale }
                let m = scores.max()!
                scores = scores.map { exp($0 - m) }
                let total = scores.reduce(0, +)
                for (j, s) in seen.enumerated() {
                    for i in 0..<hd { z[t][h * hd + i] += scores[j] / total * v[s][g * hd + i] }
                }
            }
        }
        return z
    }

    static func silu(_ g: Double) -> Double { g / (1 + exp(-g)) }

    /// y = W x + scale * B (A x') for one row, x' = branchInput ?? x; W [out, in] row-major, A [r, in], B [out, r].
    static func linear(_ x: [Double], w: [Double], out: Int, a: [Double]? = nil, b: [Double]? = nil, rank: Int = 0,
                       scale: Double = 0, branchInput: [Double]? = nil) -> [Double] {
        // Plain loops: the finite-difference tests call this thousands of times in debug builds.
        func product(_ m: [Double], rows: Int, _ v: [Double]) -> [Double] {
            let cols = v.count
            var result = [Double](repeating: 0, count: rows)
            for r in 0..<rows {
                var total = 0.0
                for c in 0..<cols { total += m[r * cols + c] * v[c] }
                result[r] = total
            }
            return result
        }
        var y = product(w, rows: out, x)
        if let a, let b {
            let branch = product(b, rows: out, product(a, rows: rank, branchInput ?? x))
            for o in 0..<out { y[o] += scale * branch[o] }
        }
        return y
    }

    /// cap * tanh(x / cap) of each logit; x itself without a cap.
    static func softCap(_ x: [Double], _ cap: Float?) -> [Double] {
        guard let cap = cap.map(Double.init) else { return x }
        return x.map { cap * tanh($0 / cap) }
    }

    /// -log softmax(logits)[target].
    static func crossEntropy(_ logits: [Double], target: Int) -> Double {
        let m = logits.max()!
        return m + log(logits.reduce(0) { $0 + exp($1 - m) }) - logits[target]
    }
}

/// The float64 model with LoRA adapters (no dropout). `parameters` follows `layout`; `inputs` replaces the embedding
/// rows of the stacked batch [N][D] when given.
struct ReferenceLoRA {
    let weights: ModelWeights
    let layout: LoRALayout
    let scale: Double

    /// Final-layer logits [N][V] of the stacked batch.
    func logits(batch: [[Int32]], parameters: [Double], inputs: [[Double]]? = nil) -> [[Double]] {
        let c = weights.config, d = c.hidden, hd = c.headDim, eps = Double(c.rmsNormEps)
        let offset = Double(c.architecture.normWeightOffset), embeddingScale = Double(c.architecture.embeddingScale(c) ?? 1)
        func vec(_ t: Tensor) -> [Double] { t.data.map(Double.init) }
        func norm(_ row: [Double], _ weight: Tensor, _ bias: Tensor? = nil) -> [Double] {
            c.architecture.norm == .layer ? ReferenceOps.layernorm(row, vec(weight), bias.map(vec), eps: eps)
                                          : ReferenceOps.rmsnorm(row, vec(weight), eps: eps, offset: offset)
        }
        func plusBias(_ rows: [[Double]], _ bias: Tensor?) -> [[Double]] {
            guard let bias else { return rows }
            return rows.map { zip($0, vec(bias)).map(+) }
        }
        func headNorm(_ rows: [[Double]], _ weight: Tensor?) -> [[Double]] {
            guard let weight else { return rows }
            return rows.map { row in (0..<(row.count / hd)).flatMap { norm(Array(row[$0 * hd..<($0 + 1) * hd]), weight) } }
        }
        var x = inputs ?? batch.joined().map { t in (0..<d).map { Double(weights.embedding.data[Int(t) * d + $0]) * embeddingScale } }
        let segments = Transformer.segments(batch)
        for (l, layer) in weights.layers.enumerated() {
            let shape = c.layers[l]
            func apply(_ target: LoRATarget, _ rows: [[Double]]) -> [[Double]] {
                let w = layer[target.role]!
                let wd = vec(w)
                guard let e = layout.entry(layer: l, target: target) else { return rows.map { ReferenceOps.linear($0, w: wd, out: w.rows) } }
                let a = Array(parameters[e.a]), b = Array(parameters[e.b])
                return rows.map { ReferenceOps.linear($0, w: wd, out: w.rows, a: a, b: b, rank: layout.rank, scale: scale) }
            }
            let h = x.map { norm($0, layer[.attentionNorm]!, layer[.attentionNormBias]) }
            let q = headNorm(plusBias(apply(.q, h), layer[.qBias]), layer[.qNorm])
            let k = headNorm(plusBias(apply(.k, h), layer[.kBias]), layer[.kNorm])
            let v = plusBias(apply(.v, h), layer[.vBias])
            let theta = Double(c.attention(layer: l).ropeTheta)
            var z: [[Double]] = []
            for segment in segments {
                let rq = segment.enumerated().map { ReferenceOps.rope(q[$1], heads: shape.heads, headDim: hd, position: $0, theta: theta, rotary: c.rotaryDims) }
                let rk = segment.enumerated().map { ReferenceOps.rope(k[$1], heads: shape.kvHeads, headDim: hd, position: $0, theta: theta, rotary: c.rotaryDims) }
                z += ReferenceOps.attention(q: rq, k: rk, v: Array(v[segment]), heads: shape.heads, kvHeads: shape.kvHeads, headDim: hd,
                                            scale: c.attentionScale.map(Double.init), window: c.attention(layer: l).window)
            }
            // Sandwich norms (Gemma) norm each branch before it joins the stream.
            func branch(_ rows: [[Double]], _ role: BlockTensor.Role) -> [[Double]] {
                layer[role].map { weight in rows.map { norm($0, weight) } } ?? rows
            }
            x = zip(x, branch(plusBias(apply(.o, z), layer[.oBias]), .postAttentionNorm)).map { zip($0, $1).map(+) }
            // Without an MLP norm the MLP reads the attention's input (Phi's parallel block).
            let h2 = layer[.mlpNorm].map { weight in x.map { norm($0, weight) } } ?? h
            let up = plusBias(apply(.up, h2), layer[.upBias])
            let activation = { ReferenceOps.activation(c.architecture.activation, $0) }
            let act = layer[.gate] == nil ? up.map { $0.map(activation) }
                : zip(apply(.gate, h2), up).map { zip($0, $1).map { activation($0) * $1 } }
            x = zip(x, branch(plusBias(apply(.down, act), layer[.downBias]), .postMLPNorm)).map { zip($0, $1).map(+) }
        }
        let output = vec(weights.outputMatrix)
        return x.map {
            ReferenceOps.softCap(plusBias([ReferenceOps.linear(norm($0, weights.finalNorm, weights.finalNormBias), w: output,
                                                               out: c.vocabSize)], weights.outputBias)[0], c.finalLogitSoftCap)
        }
    }

    /// Mean NLL over the masked-in targets (lossMask[b][t] for t >= 1 scores token t from row t-1).
    func loss(batch: [[Int32]], lossMask: [[Bool]], parameters: [Double], inputs: [[Double]]? = nil) -> Double {
        let logits = logits(batch: batch, parameters: parameters, inputs: inputs)
        var total = 0.0, count = 0
        for (b, segment) in Transformer.segments(batch).enumerated() {
            for t in 1..<batch[b].count where lossMask[b][t] {
                total += ReferenceOps.crossEntropy(logits[segment.lowerBound + t - 1], target: Int(batch[b][t]))
                count += 1
            }
        }
        return total / Double(count)
    }
}

/// Central differences of f at x, one coordinate at a time: the float64 gradient.
func numericGradient(_ x: [Double], step: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
    (0..<x.count).map { i in
        var plus = x, minus = x
        plus[i] += step
        minus[i] -= step
        return (f(plus) - f(minus)) / (2 * step)
    }
}

/// Random fp32 values uniform in +-scale.
func randomFloats(_ count: Int, scale: Float = 1, seed: UInt64) -> [Float] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in rng.uniform(scale) }
}
