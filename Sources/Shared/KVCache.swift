/// Keys and values of every layer for the positions decoded so far, so a decode step computes q/k/v for the new
/// tokens only. Per layer: keys and values [positions, KV*hd], already rotated by RoPE at their positions.
public struct KVCache: Sendable {
    /// Positions held (the position of the next token).
    public private(set) var count = 0
    private var keys: [[Float]]
    private var values: [[Float]]
    private let widths: [Int]

    public init(config: ModelConfig) {
        widths = config.layers.map { $0.kvHeads * config.headDim }
        keys = widths.map { _ in [] }
        values = widths.map { _ in [] }
    }

    /// Appends the new tokens' k and v [T, KV*hd] of `layer`. Every layer stores the same tokens, then `advance`.
    mutating func store(layer: Int, k: [Float], v: [Float]) {
        precondition(k.count == v.count && k.count % widths[layer] == 0 && keys[layer].count == count * widths[layer])
        keys[layer].append(contentsOf: k)
        values[layer].append(contentsOf: v)
    }

    /// Marks `tokens` more positions as held, once every layer has stored them.
    mutating func advance(by tokens: Int) {
        count += tokens
        precondition(zip(keys, widths).allSatisfy { $0.count == count * $1 }, "a layer missed its KV store")
    }

    /// Attention output [T, H*hd] of T new tokens (rotated q: [T, H*hd]) at positions count..<count+T of `layer`,
    /// whose k and v were stored already: new token t attends to cached positions 0...count+t.
    func attend(layer: Int, q: [Float], tokens: Int, heads: Int, kvHeads: Int, headDim: Int) -> [Float] {
        let held = keys[layer].count / widths[layer]
        let past = held - tokens
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim
        let groupSize = heads / kvHeads
        let scale = 1 / Float(headDim).squareRoot()
        var z = [Float](repeating: 0, count: tokens * qWidth)
        var scores = [Float](repeating: 0, count: tokens * held)
        q.withUnsafeBufferPointer { qp in
            keys[layer].withUnsafeBufferPointer { kp in
                values[layer].withUnsafeBufferPointer { vp in
                    z.withUnsafeMutableBufferPointer { zp in
                        scores.withUnsafeMutableBufferPointer { sp in
                            for h in 0..<heads {
                                let g = h / groupSize
                                // scores[T, held] = scale * q_h . K_g^T
                                BLAS.gemmTransposedB(m: tokens, n: held, k: headDim, alpha: scale,
                                                     a: qp.baseAddress! + h * headDim, lda: qWidth,
                                                     b: kp.baseAddress! + g * headDim, ldb: kvWidth,
                                                     c: sp.baseAddress!, ldc: held)
                                for t in 0..<tokens {
                                    let row = sp.baseAddress! + t * held, visible = past + t + 1
                                    VectorMath.softmax(row, count: visible)
                                    (row + visible).update(repeating: 0, count: held - visible)
                                }
                                // z_h[T, hd] = scores . V_g
                                BLAS.gemm(m: tokens, n: headDim, k: held, a: sp.baseAddress!, lda: held,
                                          b: vp.baseAddress! + g * headDim, ldb: kvWidth,
                                          c: zp.baseAddress! + h * headDim, ldc: qWidth)
                            }
                        }
                    }
                }
            }
        }
        return z
    }
}
