/// scale * B A, added to a matrix's rows as they are written: a LoRA adapter merged into its weight one panel at a
/// time, so the merged model never exists whole. B is [rows, rank], A [rank, columns], both row-major.
public struct LowRankUpdate: Sendable, Equatable {
    public let scale: Float
    public let rank: Int
    public let b: [Float]
    public let a: [Float]

    public init(scale: Float, rank: Int, b: [Float], a: [Float]) {
        precondition(rank > 0 && b.count % rank == 0 && a.count % rank == 0, "a rank-\(rank) update of B \(b.count) and A \(a.count) values")
        self.scale = scale
        self.rank = rank
        self.b = b
        self.a = a
    }

    public var rows: Int { b.count / rank }
    public var columns: Int { a.count / rank }

    /// out[range.count, columns] += scale * B[range] A.
    public func add(rows range: Range<Int>, to out: UnsafeMutablePointer<Float>, columns: Int) {
        precondition(columns == self.columns && range.upperBound <= rows, "rows \(range) of a \(rows)x\(self.columns) update")
        guard !range.isEmpty else { return }
        b.withUnsafeBufferPointer { b in
            a.withUnsafeBufferPointer { a in
                BLAS.gemm(m: range.count, n: columns, k: rank, alpha: scale, a: b.baseAddress! + range.lowerBound * rank, lda: rank,
                          b: a.baseAddress!, ldb: columns, beta: 1, c: out, ldc: columns)
            }
        }
    }

    /// The update of the rows gathered as `from` says (row i of the result is row from[i]).
    public func gatheringRows(_ from: [Int]) -> LowRankUpdate {
        LowRankUpdate(scale: scale, rank: rank, b: from.flatMap { b[($0 * rank)..<(($0 + 1) * rank)] }, a: a)
    }
}
