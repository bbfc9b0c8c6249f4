/// Dot products of stored weight rows with one fp32 vector: the matrix-vector products of decoding a token.
/// The sum runs in 16 fp32 lanes (lane = element mod 16) reduced in a fixed tree, so the result does not depend on
/// the CPU or on how rows are split among threads.
enum RowDot {
    /// y[r] = W[r] . x + beta * y[r] for r in `range`; x has `weight.columns` elements.
    static func rows(_ weight: StoredMatrix, _ range: Range<Int>, x: UnsafePointer<Float>, beta: Float,
                     into y: UnsafeMutablePointer<Float>) {
        var row = [Float](repeating: 0, count: weight.columns)
        var scratch = [Float](repeating: 0, count: weight.columnIndex == nil ? 0 : weight.storedColumns)
        row.withUnsafeMutableBufferPointer { rp in
            scratch.withUnsafeMutableBufferPointer { sp in
                for r in range {
                    weight.decodeRows(r..<(r + 1), into: rp.baseAddress!, scratch: sp.baseAddress ?? rp.baseAddress!)
                    let dot = dot16(rp.baseAddress!, x, count: weight.columns)
                    y[r] = beta == 0 ? dot : dot + beta * y[r]
                }
            }
        }
    }

    /// w . x in 16 lanes, then lanes 0-7 + 8-15, 0-3 + 4-7, 0-1 + 2-3, 0 + 1.
    @inline(__always)
    static func dot16(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>.zero
        var i = 0
        while i + 16 <= count {
            let a = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            lanes += a * b
            i += 16
        }
        while i < count {
            lanes[i % 16] += w[i] * x[i]
            i += 1
        }
        let eight = lanes.lowHalf + lanes.highHalf
        let four = eight.lowHalf + eight.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }
}
