extension Attention {
    /// Backward of `causal` for one sequence (all heads active). Inputs as the forward saw them: q [T, H*hd],
    /// k and v [T, KV*hd] (rotated), and dz [T, H*hd]. Writes dq [T, H*hd], dk and dv [T, KV*hd] (gradients of the
    /// rotated q and k); the heads of one group accumulate into their shared K/V head.
    /// `scratch` holds at least 2*T*T floats (P and dP of one head; P is recomputed, not stored).
    public static func causalBackward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                      dz: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
                                      dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                      tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
                                      scratch: UnsafeMutablePointer<Float>) {
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim
        let groupSize = heads / kvHeads
        let scale = 1 / Float(headDim).squareRoot()
        let p = scratch, dp = scratch + tokens * tokens
        dk.update(repeating: 0, count: tokens * kvWidth)
        dv.update(repeating: 0, count: tokens * kvWidth)
        for h in 0..<heads {
            let g = h / groupSize
            let qh = q + h * headDim, kg = k + g * headDim, vg = v + g * headDim, dzh = dz + h * headDim
            probabilities(q: qh, lda: qWidth, k: kg, ldb: kvWidth, tokens: tokens, headDim: headDim, into: p)
            // dv_g[T, hd] += P[T, T]^T . dz_h[T, hd]
            BLAS.gemmTransposedA(m: tokens, n: headDim, k: tokens, a: p, lda: tokens, b: dzh, ldb: qWidth,
                                 beta: 1, c: dv + g * headDim, ldc: kvWidth)
            // dP[T, T] = dz_h . v_g^T
            BLAS.gemmTransposedB(m: tokens, n: tokens, k: headDim, a: dzh, lda: qWidth, b: vg, ldb: kvWidth,
                                 c: dp, ldc: tokens)
            // Softmax backward, row by row: dS = P * (dP - sum_s P dP); masked entries have P = 0 and stay 0.
            let rows = SendablePointer(dp)
            let probabilities = SendablePointer(p)
            let n = tokens
            VectorMath.parallelFor(tokens) { t in
                let pr = probabilities.pointer + t * n, dr = rows.pointer + t * n
                var dot: Float = 0
                for s in 0...t { dot += pr[s] * dr[s] }
                for s in 0...t { dr[s] = pr[s] * (dr[s] - dot) }
                (dr + t + 1).update(repeating: 0, count: n - t - 1)
            }
            // dq_h[T, hd] = scale * dS[T, T] . k_g[T, hd]
            BLAS.gemm(m: tokens, n: headDim, k: tokens, alpha: scale, a: dp, lda: tokens, b: kg, ldb: kvWidth,
                      c: dq + h * headDim, ldc: qWidth)
            // dk_g[T, hd] += scale * dS[T, T]^T . q_h[T, hd]
            BLAS.gemmTransposedA(m: tokens, n: headDim, k: tokens, alpha: scale, a: dp, lda: tokens, b: qh, ldb: qWidth,
                                 beta: 1, c: dk + g * headDim, ldc: kvWidth)
        }
    }
}
