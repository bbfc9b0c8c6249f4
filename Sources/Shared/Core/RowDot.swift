/// Dot products of stored weight rows with one fp32 vector: the matrix-vector products of decoding a token, fused
/// with the decoding in the CKernels (`QuantKernels.matvec`), so a row's bytes are read once and no fp32 row is
/// written. The sum runs in a fixed order (per-unit products on 16 lanes, scaled into them once per unit, then a fixed
/// tree; see mop_dot_row in CKernels.h), whatever the CPU or the split of rows among threads.
enum RowDot {
    /// y[r] = W[r] . x + beta * y[r] for r in `range`; x has `weight.columns` elements.
    static func rows(_ weight: StoredMatrix, _ range: Range<Int>, x: UnsafePointer<Float>, beta: Float,
                     into y: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        // Dropped columns read a zero input: the stored row is summed whole, the kept columns where they are stored.
        var scattered = [Float](repeating: 0, count: weight.columnIndex == nil ? 0 : weight.storedColumns)
        if let columns = weight.columnIndex {
            for (j, column) in columns.enumerated() { scattered[Int(column)] = x[j] }
        }
        var dots = [Float](repeating: 0, count: range.count)
        // Without a row list, rows are consecutive from the range's first.
        let base = weight.storedRowBytes(weight.rowIndex == nil ? range.lowerBound : 0)
        scattered.withUnsafeBufferPointer { sp in
            dots.withUnsafeMutableBufferPointer { dp in
                // An empty array's buffer may still have an address: choose by the list, not by nil.
                let input = weight.columnIndex == nil ? x : UnsafePointer(sp.baseAddress!)
                func run(_ rows: UnsafePointer<Int32>?) {
                    let done = QuantKernels.matvec(type: weight.type, base: base, rowBytes: weight.rowBytes, rows: rows,
                                                   count: range.count, x: input, n: weight.storedColumns, y: dp.baseAddress!)
                    // StoredMatrix holds decodable types only; the kernel fails only without memory for its prepared input.
                    precondition(done, "no memory for the \(weight.type.name) kernel's input of \(weight.storedColumns) elements")
                }
                if let rowIndex = weight.rowIndex {
                    rowIndex.withUnsafeBufferPointer { run($0.baseAddress! + range.lowerBound) }
                } else {
                    run(nil)
                }
            }
        }
        for (i, r) in range.enumerated() { y[r] = beta == 0 ? dots[i] : dots[i] + beta * y[r] }
    }
}
