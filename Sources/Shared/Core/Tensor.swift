/// A row-major tensor of fp32 values. Weight matrices are [out, in], as in PyTorch and safetensors.
///
/// A matrix may instead be kept as stored in its file (`stored`, `--weights stored`): products decode it a panel at
/// a time (`BLAS.linear`), and `data` decodes the whole of it, for the few places that need every value at once
/// (exports). Writing to `data` turns a stored tensor into an fp32 one. A stored matrix may carry a low-rank update
/// (`lowRank`, a merged LoRA adapter): every read adds it, and `stored` is then nil, since the bytes alone are not
/// the values.
public struct Tensor: Sendable {
    public var shape: [Int]
    /// The values of an fp32 tensor; empty while `encoded` holds them.
    private var values: [Float]
    /// The matrix as stored in its file, before `lowRank`.
    private(set) var encoded: StoredMatrix?
    /// An update added to the stored values (only over a stored matrix).
    public private(set) var lowRank: LowRankUpdate?
    /// The matrix as stored in its file, when those bytes are its values (no `lowRank`).
    public var stored: StoredMatrix? { lowRank == nil ? encoded : nil }
    /// A tensor this rank does not hold (`init(absent:)`).
    public private(set) var isAbsent: Bool

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "tensor data (\(data.count)) does not fill shape \(shape)")
        self.shape = shape
        values = data
        encoded = nil
        isAbsent = false
    }

    /// A tensor of `shape` whose values another rank holds (a pipeline stage received only its part's tensors,
    /// `ModelPart`): it keeps the model's shape whole; reading its values is a programming error.
    public init(absent shape: [Int]) {
        self.shape = shape
        values = []
        encoded = nil
        isAbsent = true
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A matrix kept in its stored encoding: [stored.rows, stored.columns].
    public init(stored: StoredMatrix) {
        shape = [stored.rows, stored.columns]
        values = []
        encoded = stored
        isAbsent = false
    }

    /// `stored` plus `update` (of the same shape), never added up in memory: the values are decoded a panel at a
    /// time with the update's rows added, and products add the update's factored product.
    public init(stored: StoredMatrix, adding update: LowRankUpdate) {
        precondition(update.rows == stored.rows && update.columns == stored.columns, "a low-rank update of another shape")
        self.init(stored: stored)
        lowRank = update
    }

    /// Every value in fp32, row-major.
    public var data: [Float] {
        get {
            precondition(!isAbsent, "the values of a tensor this rank does not hold were read")
            guard var decoded = encoded?.dequantized() else { return values }
            decoded.withUnsafeMutableBufferPointer { lowRank?.addRows(0..<rows, into: $0.baseAddress!) }
            return decoded
        }
        set {
            precondition(newValue.count == count, "tensor data (\(newValue.count)) does not fill shape \(shape)")
            values = newValue
            encoded = nil
            lowRank = nil
            isAbsent = false
        }
        _modify {
            if encoded != nil {
                values = data
                encoded = nil
                lowRank = nil
            }
            yield &values
        }
    }

    public var count: Int { shape.reduce(1, *) }
    /// Rows of a matrix (the first dimension).
    public var rows: Int { shape[0] }
    /// Columns of a matrix (the product of the remaining dimensions).
    public var cols: Int { shape.dropFirst().reduce(1, *) }

    /// Bytes the values occupy in memory: 4 per value in fp32, the stored encoding's size otherwise.
    public var bytesHeld: Int {
        isAbsent ? 0 : (encoded?.bytesHeld ?? count * MemoryLayout<Float>.size) + (lowRank?.bytesHeld ?? 0)
    }

    /// The same values under another shape with as many elements and, for a stored matrix, the same rows.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var copy = self
        if encoded != nil { precondition(newShape.first == rows, "a stored matrix keeps its rows") }
        copy.shape = newShape
        return copy
    }

    /// Rows `range` in fp32 into `out`: [range.count, cols].
    public func copyRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        precondition(!isAbsent, "the rows of a tensor this rank does not hold were read")
        if let encoded {
            encoded.decodeRowsInParallel(range, into: out)
            lowRank?.addRows(range, into: out)
            return
        }
        values.withUnsafeBufferPointer { source in
            out.update(from: source.baseAddress! + range.lowerBound * cols, count: range.count * cols)
        }
    }

    /// Runs `body` on consecutive panels of at most `rows` rows in fp32 ([panel rows, cols], first row's index),
    /// decoding a stored matrix one panel at a time so a whole fp32 copy never exists.
    public func forEachRowPanel(rows panelRows: Int, _ body: (UnsafeBufferPointer<Float>, Int) -> Void) {
        precondition(!isAbsent, "the rows of a tensor this rank does not hold were read")
        if lowRank != nil {
            var panel = [Float](repeating: 0, count: min(rows, panelRows) * cols)
            panel.withUnsafeMutableBufferPointer { buffer in
                for start in stride(from: 0, to: rows, by: panelRows) {
                    let end = min(rows, start + panelRows)
                    copyRows(start..<end, into: buffer.baseAddress!)
                    body(UnsafeBufferPointer(rebasing: buffer[..<((end - start) * cols)]), start)
                }
            }
            return
        }
        if let stored {
            stored.forEachPanel(rows: panelRows) { panel, start, count in
                body(UnsafeBufferPointer(start: panel, count: count * cols), start)
            }
            return
        }
        values.withUnsafeBufferPointer { all in
            for start in stride(from: 0, to: rows, by: panelRows) {
                let end = min(rows, start + panelRows)
                body(UnsafeBufferPointer(rebasing: all[(start * cols)..<(end * cols)]), start)
            }
        }
    }

    /// Rows of about `bytes` of fp32: a panel size for `forEachRowPanel` (the load-time checks use it).
    public func panelRows(bytes: Int = 1 << 21) -> Int { max(1, min(rows, bytes / max(1, cols * MemoryLayout<Float>.size))) }
}

extension Tensor: Equatable {
    /// Equal shapes and values; two views of the same stored bytes are equal without decoding them.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape, lhs.isAbsent == rhs.isAbsent else { return false }
        if lhs.isAbsent { return true }
        if let a = lhs.stored, let b = rhs.stored, a.isSameView(as: b) { return true }
        return lhs.data == rhs.data
    }
}
