/// What a caller of `BlockForward` decides: how a projection is computed (LoRA adds its branch), how attention
/// finds its keys (sequences and shared prefixes, or the KV cache), and what it keeps or changes of the
/// intermediate values (a neuron mask, AMP's observer, training's saved activations).
protocol BlockHooks {
    /// y [N, out] = input [N, in] . W^T for the block's projection `role` (q, k, v, o, gate, up or down).
    mutating func project(_ role: BlockTensor.Role, _ input: [Float], rows: Int) -> [Float]
    /// x [N, D] += input . W^T: the residual add of o and down.
    mutating func addProjection(_ role: BlockTensor.Role, _ input: [Float], rows: Int, into x: inout [Float])
    /// Rotates q [N, H*hd] and k [N, KV*hd] in place and returns causal attention z [N, H*hd].
    mutating func attend(q: inout [Float], k: inout [Float], v: [Float], rows: Int) -> [Float]
    /// Sees (and may change) an intermediate value as it is made.
    mutating func record(_ stage: BlockForward.Stage, _ value: inout [Float])
}

extension BlockHooks {
    mutating func record(_ stage: BlockForward.Stage, _ value: inout [Float]) {}
}

/// The one transformer block forward, shared by scoring and evaluation (`Transformer`), KV-cache decoding
/// (`Generator`) and LoRA training (`TrainingBlock`, whose backward reads the values it records):
///
///     h = RMSNorm(x);  q, k, v = h Wq^T + bq, h Wk^T + bk, h Wv^T + bv   (biases where the architecture has them)
///     x += attention(rope(q), rope(k), v) Wo^T
///     h2 = RMSNorm(x); x += (SiLU(h2 Wgate^T) * (h2 Wup^T)) Wdown^T
///
/// Rows of all sequences are stacked: x is [N, D].
enum BlockForward {
    /// The intermediate values, in the order they are made. Shapes: D hidden, Q = H*hd, K = KV*hd, I neurons.
    enum Stage {
        case attentionInput   // h = RMSNorm(x) [N, D]
        case query            // rotated q [N, Q]
        case key              // rotated k [N, K]
        case value            // v [N, K]
        case attentionOutput  // z, o_proj input [N, Q]
        case middle           // x + o(z) [N, D]
        case mlpInput         // h2 = RMSNorm(middle) [N, D]
        case gate             // gate pre-activation [N, I]
        case up               // [N, I]
        case mlpActivation    // a = SiLU(gate) * up, down_proj input [N, I]
    }

    /// Runs the block in place on the residual stream x [N, D].
    static func run<Hooks: BlockHooks>(_ x: inout [Float], layer: LayerWeights, eps: Float, hooks: inout Hooks) {
        let rows = x.count / layer.attentionNorm.count
        var h = RMSNorm.forward(x, rows: rows, weight: layer.attentionNorm, eps: eps)
        hooks.record(.attentionInput, &h)
        var q = hooks.project(.q, h, rows: rows), k = hooks.project(.k, h, rows: rows)
        var v = hooks.project(.v, h, rows: rows)
        addBias(layer.qBias, to: &q, rows: rows)
        addBias(layer.kBias, to: &k, rows: rows)
        addBias(layer.vBias, to: &v, rows: rows)
        var z = hooks.attend(q: &q, k: &k, v: v, rows: rows)
        hooks.record(.query, &q)
        hooks.record(.key, &k)
        hooks.record(.value, &v)
        hooks.record(.attentionOutput, &z)
        hooks.addProjection(.o, z, rows: rows, into: &x)
        hooks.record(.middle, &x)

        var h2 = RMSNorm.forward(x, rows: rows, weight: layer.mlpNorm, eps: eps)
        hooks.record(.mlpInput, &h2)
        var gate = hooks.project(.gate, h2, rows: rows)
        var up = hooks.project(.up, h2, rows: rows)
        hooks.record(.gate, &gate)
        hooks.record(.up, &up)
        var a = consume gate
        a.withUnsafeMutableBufferPointer { ap in
            up.withUnsafeBufferPointer { VectorMath.swiGLU(gate: ap.baseAddress!, up: $0.baseAddress!, count: ap.count) }
        }
        hooks.record(.mlpActivation, &a)
        hooks.addProjection(.down, a, rows: rows, into: &x)
    }

    /// y [rows, n] += bias [n] on every row; nothing when the block has no such bias.
    static func addBias(_ bias: Tensor?, to y: inout [Float], rows: Int) {
        guard let bias else { return }
        let n = bias.count
        precondition(y.count == rows * n, "bias of \(n) for \(y.count) values")
        y.withUnsafeMutableBufferPointer { yp in
            bias.data.withUnsafeBufferPointer { bp in
                for r in 0..<rows {
                    let row = yp.baseAddress! + r * n
                    for c in 0..<n { row[c] += bp[c] }
                }
            }
        }
    }
}

/// The frozen-weight projections every inference path uses: one BLAS product per projection, the residual add
/// fused into the product (beta = 1).
extension BlockHooks where Self: FrozenProjections {
    mutating func project(_ role: BlockTensor.Role, _ input: [Float], rows: Int) -> [Float] {
        BLAS.linear(input, rows: rows, layer[role]!)
    }

    mutating func addProjection(_ role: BlockTensor.Role, _ input: [Float], rows: Int, into x: inout [Float]) {
        BLAS.addLinear(input, rows: rows, weight: layer[role]!, into: &x)
    }
}

/// Hooks whose projections are the block's own weights, unadapted.
protocol FrozenProjections {
    var layer: LayerWeights { get }
}
