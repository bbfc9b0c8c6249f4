/// The fp32 rows of a tensor made on demand, a panel at a time, for the writers: an export never holds more than a
/// panel of one tensor in fp32. A tensor's own rows (a stored one decoded, with a merged LoRA adapter's update added), or
/// widened with zeros (neuron padding).
public struct TensorRows: Sendable {
    /// [rows, ...]; a vector is [n] (n rows of one value), a scalar [] (one row of one value).
    public let shape: [Int]
    /// Fills [range.count, cols] at the pointer.
    private let fill: @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void

    public var rows: Int { shape.first ?? 1 }
    public var cols: Int { shape.dropFirst().reduce(1, *) }
    public var count: Int { shape.reduce(1, *) }

    public init(_ tensor: Tensor) {
        shape = tensor.shape
        fill = { tensor.copyRows($0, into: $1) }
    }

    private init(shape: [Int], fill: @escaping @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        self.shape = shape
        self.fill = fill
    }

    /// Rows `range` into `out`: [range.count, cols].
    public func copyRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) { fill(range, out) }

    /// Panel rows of about `bytes` of fp32, at least one row.
    public func panelRows(bytes: Int = 1 << 21) -> Int { max(1, min(rows, bytes / max(1, cols * MemoryLayout<Float>.size))) }

    /// Runs `body` on consecutive panels of whole rows ([panel rows, cols], first row's index), through one buffer.
    public func forEachPanel(rows panel: Int? = nil, _ body: (UnsafeBufferPointer<Float>, Int) throws -> Void) rethrows {
        guard count > 0 else { return }
        let step = panel ?? panelRows()
        var buffer = [Float](repeating: 0, count: min(rows, step) * cols)
        try buffer.withUnsafeMutableBufferPointer { out in
            for start in stride(from: 0, to: rows, by: step) {
                let end = min(rows, start + step)
                fill(start..<end, out.baseAddress!)
                try body(UnsafeBufferPointer(rebasing: out[0..<((end - start) * cols)]), start)
            }
        }
    }

    /// Every value, row-major (tests and small tensors).
    public var values: [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { fill(0..<rows, buffer.baseAddress!) }
            initialized = count
        }
    }

    /// These rows with zero rows appended to `rows` rows and, for a matrix, zero columns to `columns` columns.
    public func padded(rows newRows: Int, columns newColumns: Int) -> TensorRows {
        precondition(newRows >= rows && newColumns >= cols && (shape.count == 2 || newColumns == cols), "padding \(shape) to \(newRows)x\(newColumns)")
        if newRows == rows && newColumns == cols { return self }
        let oldRows = rows, oldColumns = cols
        let newShape = shape.count == 1 ? [newRows] : [newRows, newColumns]
        return TensorRows(shape: newShape) { [fill] range, out in
            (out).initialize(repeating: 0, count: range.count * newColumns)
            let held = range.clamped(to: 0..<oldRows)
            guard !held.isEmpty else { return }
            if newColumns == oldColumns {
                fill(held, out)
                return
            }
            var row = [Float](repeating: 0, count: oldColumns)
            row.withUnsafeMutableBufferPointer { buffer in
                for r in held {
                    fill(r..<(r + 1), buffer.baseAddress!)
                    (out + (r - range.lowerBound) * newColumns).update(from: buffer.baseAddress!, count: oldColumns)
                }
            }
        }
    }
}
