import Foundation

/// Causal grouped-query attention, one sequence at a time, a block of query rows at a time; its backward is
/// `attendBackward` (AttentionBackward.swift). A layer's `Window` gives the scale of q.k (1/sqrt(hd) unless
/// the family says otherwise) and its sliding window (nil: every earlier position is seen).
public enum Attention {
    /// How one layer's attention scores: the factor of q.k and the positions a query sees.
    public struct Window: Equatable, Sendable {
        public var scale: Float
        /// Keys within this many positions of the query, itself included (Gemma-3's sliding layers); nil: all.
        public var size: Int?

        public init(scale: Float, size: Int? = nil) {
            self.scale = scale
            self.size = size
        }

        /// Plain causal attention of heads of `headDim`: 1/sqrt(hd), no window.
        public static func causal(headDim: Int) -> Window { Window(scale: 1 / Float(headDim).squareRoot()) }

        /// The first key position a query at `position` sees.
        func firstVisible(_ position: Int) -> Int { size.map { max(0, position + 1 - $0) } ?? 0 }
    }

    /// Query rows scored together. A block computes scores only up to its own last row, so the work past the causal
    /// diagonal is at most half a block per row, and the scratch holds one block's scores, not T x T of them (at
    /// 32k positions that is 4 GiB per head).
    public static let queryBlock = 256

    /// Floats of scratch `attend` needs for `tokens` new rows after `past` positions.
    public static func scratchCount(tokens: Int, past: Int = 0, queryBlock: Int = queryBlock) -> Int {
        min(tokens, queryBlock) * (past + tokens)
    }

    /// The blocks `attend` runs per head: `rows` query rows from `first` on, scored against the `seen` = past +
    /// first + rows positions they can see. Its products per head are scores [rows, seen] = q K^T (k = hd) and
    /// z [rows, hd] = scores V (k = seen); `ForwardBenchmark` lists them from here.
    public static func queryBlocks(tokens: Int, past: Int = 0, queryBlock: Int = queryBlock)
        -> [(first: Int, rows: Int, seen: Int)] {
        stride(from: 0, to: tokens, by: queryBlock).map { first in
            let rows = min(queryBlock, tokens - first)
            return (first, rows, past + first + rows)
        }
    }

    /// z[T, H*hd] of T tokens that follow `past` earlier positions: z_h = softmax(scale q_h K_g^T + causal (and
    /// window) mask) V_g for every head h of group g = h / (H/KV); new token t attends to positions 0...past+t.
    /// q: [T, H*hd] of the new tokens, k and v: [past+T, KV*hd] of all positions, already rotated.
    /// Heads whose `activeHeads` flag is false are not computed and output zero. `scratch` holds at least
    /// `scratchCount(tokens:past:queryBlock:)` floats. The KV-cache decode step, a shared zero-shot context's
    /// continuations (past > 0) and every full sequence (past = 0) use it.
    public static func attend(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                              z: UnsafeMutablePointer<Float>, tokens: Int, past: Int = 0, heads: Int, kvHeads: Int,
                              headDim: Int, window: Window? = nil, activeHeads: [Bool]? = nil,
                              scratch: UnsafeMutablePointer<Float>, queryBlock: Int = queryBlock) {
        let window = window ?? .causal(headDim: headDim)
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim
        let groupSize = heads / kvHeads
        for h in 0..<heads where activeHeads?[h] ?? true {
            let g = h / groupSize
            for (first, rows, seen) in queryBlocks(tokens: tokens, past: past, queryBlock: queryBlock) {
                probabilities(q: q + first * qWidth + h * headDim, lda: qWidth, k: k + g * headDim, ldb: kvWidth,
                              rows: rows, firstPosition: past + first, seen: seen, headDim: headDim, window: window,
                              into: scratch)
                // z_h[rows, hd] = scores . V_g[0..<seen]
                BLAS.gemm(m: rows, n: headDim, k: seen, a: scratch, lda: seen, b: v + g * headDim, ldb: kvWidth,
                          c: z + first * qWidth + h * headDim, ldc: qWidth)
            }
        }
    }

    /// P[rows, seen] = causal softmax(scale * q . K^T) of one head's query rows at positions firstPosition..<
    /// firstPosition+rows against keys 0..<seen: the row at position t attends to keys window.firstVisible(t)...t and
    /// its masked entries are exactly zero. q: the block's first row, lda apart; k: key 0 of the head's group, ldb apart.
    /// The backward pass recomputes P with this same function.
    static func probabilities(q: UnsafePointer<Float>, lda: Int, k: UnsafePointer<Float>, ldb: Int, rows: Int,
                              firstPosition: Int, seen: Int, headDim: Int, window: Window,
                              into scores: UnsafeMutablePointer<Float>) {
        BLAS.gemmTransposedB(m: rows, n: seen, k: headDim, alpha: window.scale,
                             a: q, lda: lda, b: k, ldb: ldb, c: scores, ldc: seen)
        let pointer = SendablePointer(scores)
        forEachRow(rows, width: seen) { row in
            let position = firstPosition + row, start = window.firstVisible(position)
            let scoreRow = pointer.pointer + row * seen
            VectorMath.softmax(scoreRow + start, visible: position + 1 - start, width: seen - start)
            scoreRow.update(repeating: 0, count: start)
        }
    }

    /// body(row) for every row of a [rows, width] block of scores: on every thread when the block is large enough to
    /// pay for waking them, else on this one (a short sequence's block, or one already running beside others).
    static func forEachRow(_ rows: Int, width: Int, _ body: @Sendable (Int) -> Void) {
        guard rows * width >= VectorMath.parallelElements else {
            for row in 0..<rows { body(row) }
            return
        }
        VectorMath.parallelFor(rows, body)
    }
}

/// A raw pointer handed to parallel loops whose iterations write disjoint parts of one buffer.
public struct SendablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
