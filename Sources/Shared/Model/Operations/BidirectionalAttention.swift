/// Multi-head attention in which every position sees every other (a vision encoder's patches): z_h = softmax(scale
/// q_h k_h^T) v_h, without a mask or RoPE, as many key heads as query heads. Inference only: the vision tower is
/// frozen and nothing trains through it.
public enum BidirectionalAttention {
    /// z [T, H*hd] of q, k, v [T, H*hd]; scale multiplies q.k (1/sqrt(hd) in CLIP).
    public static func attend(q: [Float], k: [Float], v: [Float], tokens: Int, heads: Int, headDim: Int, scale: Float) -> [Float] {
        let width = heads * headDim
        precondition(q.count == tokens * width && k.count == q.count && v.count == q.count, "attention of \(q.count) values")
        var z = [Float](repeating: 0, count: tokens * width)
        var scores = [Float](repeating: 0, count: tokens * tokens)
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            z.withUnsafeMutableBufferPointer { zp in scores.withUnsafeMutableBufferPointer { sp in
                for h in 0..<heads {
                    let offset = h * headDim
                    BLAS.gemmTransposedB(m: tokens, n: tokens, k: headDim, alpha: scale, a: qp.baseAddress! + offset, lda: width,
                                         b: kp.baseAddress! + offset, ldb: width, c: sp.baseAddress!, ldc: tokens)
                    for row in 0..<tokens { VectorMath.softmax(sp.baseAddress! + row * tokens, count: tokens) }
                    BLAS.gemm(m: tokens, n: headDim, k: tokens, a: sp.baseAddress!, lda: tokens, b: vp.baseAddress! + offset,
                              ldb: width, c: zp.baseAddress! + offset, ldc: width)
                }
            } }
        } } }
        return z
    }
}
