import Foundation

/// Causal grouped-query attention, one sequence at a time.
public enum Attention {
    /// z[T, H*hd] = softmax(q_h k_g^T / sqrt(hd) + causal mask) v_g for every head h of group g = h / (H/KV).
    /// q: [T, H*hd], k and v: [T, KV*hd], all already rotated; rows of one sequence.
    /// Heads whose `activeHeads` flag is false are not computed and output zero.
    /// `scratch` holds at least T*T floats (the score matrix of one head).
    public static func causal(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                              z: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
                              activeHeads: [Bool]? = nil, scratch: UnsafeMutablePointer<Float>) {
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim
        let groupSize = heads / kvHeads
        for h in 0..<heads where activeHeads?[h] ?? true {
            let g = h / groupSize
            probabilities(q: q + h * headDim, lda: qWidth, k: k + g * headDim, ldb: kvWidth, tokens: tokens,
                          headDim: headDim, into: scratch)
            // z_h[T, hd] = scores . v_g
            BLAS.gemm(m: tokens, n: headDim, k: tokens, a: scratch, lda: tokens,
                      b: v + g * headDim, ldb: kvWidth, c: z + h * headDim, ldc: qWidth)
        }
    }

    /// z[T, H*hd] of T tokens that follow `past` earlier positions: q [T, H*hd] of the new tokens, k and v
    /// [past+T, KV*hd] of all positions (already rotated); new token t attends to positions 0...past+t. The KV-cache
    /// decode step and the zero-shot scorer's shared contexts use it; with past = 0 it equals `causal`.
    /// `scratch` holds at least T*(past+T) floats.
    public static func afterPast(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 z: UnsafeMutablePointer<Float>, tokens: Int, past: Int, heads: Int, kvHeads: Int,
                                 headDim: Int, scratch: UnsafeMutablePointer<Float>) {
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim, held = past + tokens
        let groupSize = heads / kvHeads
        for h in 0..<heads {
            let g = h / groupSize
            // scores[T, held] = scale * q_h . K_g^T
            BLAS.gemmTransposedB(m: tokens, n: held, k: headDim, alpha: 1 / Float(headDim).squareRoot(),
                                 a: q + h * headDim, lda: qWidth, b: k + g * headDim, ldb: kvWidth, c: scratch, ldc: held)
            for t in 0..<tokens {
                VectorMath.softmax(scratch + t * held, visible: past + t + 1, width: held)
            }
            // z_h[T, hd] = scores . V_g
            BLAS.gemm(m: tokens, n: headDim, k: held, a: scratch, lda: held, b: v + g * headDim, ldb: kvWidth,
                      c: z + h * headDim, ldc: qWidth)
        }
    }

    /// P[T, T] = causal softmax(scale * q_h . k_g^T) of one head, scale = 1/sqrt(hd): row t attends to positions
    /// 0...t and its masked tail is exactly zero. The backward pass recomputes it with this same function.
    static func probabilities(q: UnsafePointer<Float>, lda: Int, k: UnsafePointer<Float>, ldb: Int, tokens: Int,
                              headDim: Int, into scores: UnsafeMutablePointer<Float>) {
        BLAS.gemmTransposedB(m: tokens, n: tokens, k: headDim, alpha: 1 / Float(headDim).squareRoot(),
                             a: q, lda: lda, b: k, ldb: ldb, c: scores, ldc: tokens)
        let rows = SendablePointer(scores)
        VectorMath.parallelFor(tokens) { t in
            VectorMath.softmax(rows.pointer + t * tokens, visible: t + 1, width: tokens)
        }
    }
}

/// A raw pointer handed to parallel loops whose iterations write disjoint parts of one buffer.
public struct SendablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
