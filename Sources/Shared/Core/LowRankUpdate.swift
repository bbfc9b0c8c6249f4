/// A rank-r update `scale * B A` of a matrix [rows, columns], kept factored: B [rows, r] and A [r, columns]. A merged
/// LoRA adapter over a matrix kept as stored is one (`Tensor(stored:adding:)`): its values are decoded a panel at a
/// time with the update added, and products add `scale * (x A^T) B^T`, so the merged model never holds an fp32 copy.
public struct LowRankUpdate: Equatable, Sendable {
    public let rows: Int
    public let columns: Int
    public let rank: Int
    public let scale: Float
    /// B [rows, rank] and A [rank, columns], row-major.
    public let b: [Float]
    public let a: [Float]

    public init(b: [Float], a: [Float], rank: Int, scale: Float, rows: Int, columns: Int) {
        precondition(b.count == rows * rank && a.count == rank * columns, "low-rank update: B or A does not fit [\(rows), \(rank)] . [\(rank), \(columns)]")
        (self.b, self.a, self.rank, self.scale, self.rows, self.columns) = (b, a, rank, scale, rows, columns)
    }

    /// Bytes the two factors take.
    public var bytesHeld: Int { (b.count + a.count) * MemoryLayout<Float>.size }

    /// out[range.count, columns] += scale * B[range, r] . A[r, columns].
    func addRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        b.withUnsafeBufferPointer { bp in
            a.withUnsafeBufferPointer { ap in
                BLAS.gemm(m: range.count, n: columns, k: rank, alpha: scale, a: bp.baseAddress! + range.lowerBound * rank, lda: rank,
                          b: ap.baseAddress!, ldb: columns, beta: 1, c: out, ldc: columns)
            }
        }
    }

    /// y[n, rows] += scale * (x[n, columns] . A^T) . B^T: the update's share of a linear layer.
    func addLinear(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>) {
        var u = [Float](repeating: 0, count: n * rank)  // [n, r]
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                u.withUnsafeMutableBufferPointer { up in
                    BLAS.gemmTransposedB(m: n, n: rank, k: columns, a: x, lda: columns, b: ap.baseAddress!, ldb: columns,
                                         c: up.baseAddress!, ldc: rank)
                    BLAS.gemmTransposedB(m: n, n: rows, k: rank, alpha: scale, a: up.baseAddress!, lda: rank,
                                         b: bp.baseAddress!, ldb: rank, beta: 1, c: y, ldc: rows)
                }
            }
        }
    }

    /// y[n, columns] += scale * (x[n, rows] . B) . A: the update's share of a product by the matrix itself (an
    /// input gradient).
    func addMultiply(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>) {
        var u = [Float](repeating: 0, count: n * rank)  // [n, r]
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                u.withUnsafeMutableBufferPointer { up in
                    BLAS.gemm(m: n, n: rank, k: rows, a: x, lda: rows, b: bp.baseAddress!, ldb: rank, c: up.baseAddress!, ldc: rank)
                    BLAS.gemm(m: n, n: columns, k: rank, alpha: scale, a: up.baseAddress!, lda: rank, b: ap.baseAddress!,
                              ldb: columns, beta: 1, c: y, ldc: columns)
                }
            }
        }
    }

    /// The update of the rows gathered as `from` says (row i of the result is row from[i]).
    public func gatheringRows(_ from: [Int]) -> LowRankUpdate {
        LowRankUpdate(b: from.flatMap { b[($0 * rank)..<(($0 + 1) * rank)] }, a: a, rank: rank, scale: scale,
                      rows: from.count, columns: columns)
    }
}
