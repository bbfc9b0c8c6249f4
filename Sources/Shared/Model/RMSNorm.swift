/// y = x / sqrt(mean(x^2) + eps) * weight, row by row. x, y: [rows, D]; weight: [D].
public enum RMSNorm {
    public static func forward(_ x: [Float], rows: Int, weight: Tensor, eps: Float) -> [Float] {
        let d = weight.count
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    let input = SendablePointer(UnsafeMutablePointer(mutating: xp.baseAddress!))
                    let weights = SendablePointer(UnsafeMutablePointer(mutating: wp.baseAddress!))
                    let output = SendablePointer(yp.baseAddress!)
                    // Rows are independent, so splitting them among the threads changes no value.
                    VectorMath.parallelRanges(rows, minimumWork: VectorMath.parallelElements / max(1, d)) { range in
                        let offset = range.lowerBound * d
                        VectorMath.kernels.rmsnorm(input.pointer + offset, weights.pointer, output.pointer + offset,
                                                   Int64(range.count), Int64(d), eps)
                    }
                }
            }
        }
        return y
    }
}
