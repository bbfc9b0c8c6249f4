import CBLAS

/// Matrix products through OpenBLAS. Every product in mop goes through here (a Swift loop is 10-100x slower).
public enum BLAS {
    /// Threads OpenBLAS uses for one product (it also sizes mop's own parallel loops).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }

    /// C[m, n] = alpha * A[m, k] . B[n, k]^T + beta * C, row-major with leading dimensions (for strided head views).
    /// The shape of every linear layer: activations [T, in] times weights [out, in]^T.
    @inline(__always)
    public static func gemmTransposedB(m: Int, n: Int, k: Int, alpha: Float = 1,
                                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                       beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemm(transposedA: false, transposedB: true, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
    }

    /// C[m, n] = alpha * A[m, k] . B[k, n] + beta * C, row-major with leading dimensions.
    @inline(__always)
    public static func gemm(m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemm(transposedA: false, transposedB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
    }

    /// C[m, n] = alpha * A[k, m]^T . B[k, n] + beta * C, row-major: the weight gradients of backward passes.
    @inline(__always)
    public static func gemmTransposedA(m: Int, n: Int, k: Int, alpha: Float = 1,
                                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                       beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemm(transposedA: true, transposedB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
    }

    /// The one call into `cblas_sgemm` (row-major); benchmarks can record its shapes (`SgemmBound.recording`).
    static func sgemm(transposedA: Bool, transposedB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        SgemmBound.note(m: m, n: n, k: k, transposedA: transposedA, transposedB: transposedB)
        cblas_sgemm(CblasRowMajor, transposedA ? CblasTrans : CblasNoTrans, transposedB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// x[N, D] += input[N, in] . W[D, in]^T: a residual add fused into the product (beta = 1).
    public static func addLinear(_ input: [Float], rows: Int, weight: Tensor, into x: inout [Float]) {
        precondition(input.count == rows * weight.cols && x.count == rows * weight.rows, "addLinear: shapes do not match")
        product(input, rows: rows, weight: weight, beta: 1, into: &x)
    }

    /// y[rows, out] = x[rows, in] . W[out, in]^T: a linear layer without bias.
    public static func linear(_ x: [Float], rows: Int, _ weight: Tensor) -> [Float] {
        precondition(x.count == rows * weight.cols, "linear: input \(x.count) is not \(rows) x \(weight.cols)")
        var y = [Float](repeating: 0, count: rows * weight.rows)
        // y starts at zero, so adding into it (beta = 1) gives the values of beta = 0 without OpenBLAS's own pass
        // zeroing y first (`sgemm_beta`, 2% of a training step). One row (decoding) stays on beta = 0.
        product(x, rows: rows, weight: weight, beta: rows > 1 ? 1 : 0, into: &y)
        return y
    }

    /// y[rows, in] (+)= x[rows, out] . W[out, in]: the input gradient of a frozen layer, added to y when
    /// `accumulate` (q, k and v share their input), written over it otherwise.
    public static func multiply(_ x: [Float], rows: Int, by weight: Tensor, into y: inout [Float], accumulate: Bool) {
        precondition(x.count == rows * weight.rows && y.count == rows * weight.cols, "multiply: shapes do not match")
        let beta: Float = accumulate ? 1 : 0
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                if let stored = weight.encoded {
                    StoredProducts.multiply(xp.baseAddress!, rows: rows, weight: stored, beta: beta, into: yp.baseAddress!)
                    weight.lowRank?.addMultiply(xp.baseAddress!, count: rows, into: yp.baseAddress!)
                    return
                }
                weight.data.withUnsafeBufferPointer { wp in
                    gemm(m: rows, n: weight.cols, k: weight.rows, a: xp.baseAddress!, lda: weight.rows,
                         b: wp.baseAddress!, ldb: weight.cols, beta: beta, c: yp.baseAddress!, ldc: weight.cols)
                }
            }
        }
    }

    /// y = x . W^T + beta * y, through `StoredProducts` when W is kept as stored (plus its low-rank update's product).
    private static func product(_ x: [Float], rows: Int, weight: Tensor, beta: Float, into y: inout [Float]) {
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                if let stored = weight.encoded {
                    StoredProducts.linear(xp.baseAddress!, rows: rows, weight: stored, beta: beta, into: yp.baseAddress!)
                    weight.lowRank?.addLinear(xp.baseAddress!, count: rows, into: yp.baseAddress!)
                    return
                }
                weight.data.withUnsafeBufferPointer { wp in
                    gemmTransposedB(m: rows, n: weight.rows, k: weight.cols, a: xp.baseAddress!, lda: weight.cols,
                                    b: wp.baseAddress!, ldb: weight.cols, beta: beta, c: yp.baseAddress!, ldc: weight.rows)
                }
            }
        }
    }
}
