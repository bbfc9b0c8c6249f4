/// Products with a weight matrix kept as stored (`StoredMatrix`). Many token rows: the matrix is decoded one panel of
/// rows at a time (on every thread) and each panel goes through `cblas_sgemm`, so the values and the products are
/// those of the fp32 path and only a panel of fp32 ever exists. One token row (decoding): a fused decode-and-dot per
/// weight row, which reads the stored bytes once instead of writing and re-reading fp32.
enum StoredProducts {
    /// fp32 bytes of one decoded panel. Every sgemm call packs the whole activation matrix again, which at 4 MB (117
    /// rows of an 8960-wide down projection) took 7% of a 1.5B model's prefill; 16 MB panels cut that by three
    /// quarters but are 16% of SmolLM2's 98 MB file, and stored weights must stay near the file's size.
    static let panelBytes = 4 << 20

    /// Stored bytes from which a one-token product is split among the threads.
    static let parallelBytes = 2 << 20

    /// Rows of `weight` per panel: at least 64, so a wide matrix still gives sgemm a real product.
    static func panelRows(_ weight: StoredMatrix) -> Int {
        min(weight.rows, max(64, panelBytes / (weight.columns * MemoryLayout<Float>.size)))
    }

    /// y[rows, out] = x[rows, in] . W[out, in]^T + beta * y (`panelRows` only for tests).
    static func linear(_ x: UnsafePointer<Float>, rows: Int, weight: StoredMatrix, beta: Float,
                       into y: UnsafeMutablePointer<Float>, panelRows: Int? = nil) {
        let out = weight.rows, inner = weight.columns
        if rows == 1 {
            matrixVector(weight, x: x, beta: beta, into: y)
            return
        }
        weight.forEachPanel(rows: panelRows ?? Self.panelRows(weight)) { panel, start, n in
            BLAS.gemmTransposedB(m: rows, n: n, k: inner, a: x, lda: inner, b: panel, ldb: inner, beta: beta,
                                 c: y + start, ldc: out)
        }
    }

    /// y[rows, in] = x[rows, out] . W[out, in] + beta * y: the input gradient of a frozen stored layer. Panels split
    /// the sum over `out`, so it adds in another order than one product over the fp32 matrix (last bits only).
    static func multiply(_ x: UnsafePointer<Float>, rows: Int, weight: StoredMatrix, beta: Float,
                         into y: UnsafeMutablePointer<Float>) {
        let out = weight.rows, inner = weight.columns
        weight.forEachPanel(rows: panelRows(weight)) { panel, start, n in
            BLAS.gemm(m: rows, n: inner, k: n, a: x + start, lda: out, b: panel, ldb: inner,
                      beta: start == 0 ? beta : 1, c: y, ldc: inner)
        }
    }

    /// y[out] = W[out, in] . x[in] + beta * y, one fused decode-and-dot per row, rows split among the threads.
    static func matrixVector(_ weight: StoredMatrix, x: UnsafePointer<Float>, beta: Float, into y: UnsafeMutablePointer<Float>) {
        let out = weight.rows
        // Waking a thread and waiting for it costs tens of microseconds, which is what decoding a layer's matrix of
        // under a few MB takes: one token runs hundreds of these, so only large matrices (an output matrix) split.
        // (Threads that spin between products instead, as llama.cpp's do, were tried: branch speed-pool; on this
        // shared machine at load 9-11 they decoded SmolLM2 at 2.8-8.1 tokens/s against 24 for these.)
        let threads = weight.bytesHeld >= parallelBytes ? max(1, min(BLAS.threads, out / 64)) : 1
        let per = (out + threads - 1) / threads
        let input = SendablePointer(UnsafeMutablePointer(mutating: x)), output = SendablePointer(y)
        VectorMath.parallelFor(threads) { worker in
            let start = worker * per, end = min(out, start + per)
            guard start < end else { return }
            RowDot.rows(weight, start..<end, x: input.pointer, beta: beta, into: output.pointer)
        }
    }
}
