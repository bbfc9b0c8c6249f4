extension Attention {
    /// Backward of `attend` for one sequence (no past, all heads active), a block of query rows at a time as the
    /// forward ran. Inputs as the forward saw them: q [T, H*hd], k and v [T, KV*hd] (rotated), and dz [T, H*hd].
    /// Writes dq [T, H*hd], dk and dv [T, KV*hd] (gradients of the rotated q and k); the heads of one group accumulate
    /// into their shared K/V head. `scratch` holds at least `backwardScratchCount(tokens:)` floats (P and dP of one
    /// block; P is recomputed, not stored).
    public static func attendBackward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                      dz: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
                                      dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                      tokens: Int, heads: Int, kvHeads: Int, headDim: Int, window: Window? = nil,
                                      scratch: UnsafeMutablePointer<Float>, queryBlock: Int = queryBlock) {
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim
        let groupSize = heads / kvHeads
        let window = window ?? .causal(headDim: headDim), scale = window.scale
        let p = scratch, dp = scratch + scratchCount(tokens: tokens, queryBlock: queryBlock)
        dk.update(repeating: 0, count: tokens * kvWidth)
        dv.update(repeating: 0, count: tokens * kvWidth)
        for h in 0..<heads {
            let g = h / groupSize
            let kg = k + g * headDim, vg = v + g * headDim
            for (first, rows, seen) in queryBlocks(tokens: tokens, queryBlock: queryBlock) {
                let qh = q + first * qWidth + h * headDim, dzh = dz + first * qWidth + h * headDim
                probabilities(q: qh, lda: qWidth, k: kg, ldb: kvWidth, rows: rows, firstPosition: first, seen: seen,
                              headDim: headDim, window: window, into: p)
                // dv_g[seen, hd] += P[rows, seen]^T . dz_h[rows, hd]
                BLAS.gemmTransposedA(m: seen, n: headDim, k: rows, a: p, lda: seen, b: dzh, ldb: qWidth,
                                     beta: 1, c: dv + g * headDim, ldc: kvWidth)
                // dP[rows, seen] = dz_h . v_g^T
                BLAS.gemmTransposedB(m: rows, n: seen, k: headDim, a: dzh, lda: qWidth, b: vg, ldb: kvWidth,
                                     c: dp, ldc: seen)
                // Softmax backward, row by row: dS = P * (dP - sum_s P dP); masked entries have P = 0 and stay 0.
                let gradients = SendablePointer(dp), probabilities = SendablePointer(p)
                forEachRow(rows, width: seen) { row in
                    let visible = first + row + 1, start = window.firstVisible(first + row)
                    let pr = probabilities.pointer + row * seen, dr = gradients.pointer + row * seen
                    var dot: Float = 0
                    for s in start..<visible { dot += pr[s] * dr[s] }
                    for s in start..<visible { dr[s] = pr[s] * (dr[s] - dot) }
                    dr.update(repeating: 0, count: start)
                    (dr + visible).update(repeating: 0, count: seen - visible)
                }
                // dq_h[rows, hd] = scale * dS[rows, seen] . k_g[seen, hd]
                BLAS.gemm(m: rows, n: headDim, k: seen, alpha: scale, a: dp, lda: seen, b: kg, ldb: kvWidth,
                          c: dq + first * qWidth + h * headDim, ldc: qWidth)
                // dk_g[seen, hd] += scale * dS[rows, seen]^T . q_h[rows, hd]
                BLAS.gemmTransposedA(m: seen, n: headDim, k: rows, alpha: scale, a: dp, lda: seen, b: qh, ldb: qWidth,
                                     beta: 1, c: dk + g * headDim, ldc: kvWidth)
            }
        }
    }

    /// Floats of scratch `attendBackward` needs for a sequence of `tokens`: P and dP of one query block.
    public static func backwardScratchCount(tokens: Int, queryBlock: Int = queryBlock) -> Int {
        2 * scratchCount(tokens: tokens, queryBlock: queryBlock)
    }
}
