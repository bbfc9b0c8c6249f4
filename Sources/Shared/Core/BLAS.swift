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
        input.withUnsafeBufferPointer { ip in
            weight.data.withUnsafeBufferPointer { wp in
                x.withUnsafeMutableBufferPointer { xp in
                    gemmTransposedB(m: rows, n: weight.rows, k: weight.cols, a: ip.baseAddress!, lda: weight.cols,
                                    b: wp.baseAddress!, ldb: weight.cols, beta: 1, c: xp.baseAddress!, ldc: weight.rows)
                }
            }
        }
    }

    /// y[rows, out] = x[rows, in] . W[out, in]^T: a linear layer without bias.
    public static func linear(_ x: [Float], rows: Int, _ weight: Tensor) -> [Float] {
        let out = weight.rows, inner = weight.cols
        precondition(x.count == rows * inner, "linear: input \(x.count) is not \(rows) x \(inner)")
        var y = [Float](repeating: 0, count: rows * out)
        x.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    gemmTransposedB(m: rows, n: out, k: inner, a: xp.baseAddress!, lda: inner,
                                    b: wp.baseAddress!, ldb: inner, c: yp.baseAddress!, ldc: out)
                }
            }
        }
        return y
    }
}
