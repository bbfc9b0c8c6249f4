/// y = x / sqrt(mean(x^2) + eps) * (offset + weight), row by row; x, y: [rows, D], weight: [D]. Offset 0 is LLaMA's
/// norm, offset 1 Gemma's (it stores w and multiplies by 1 + w). A per-head norm (q/k norms)
/// is the same operation over rows of one head: x [rows * heads, hd], weight [hd].
public enum RMSNorm {
    public static func forward(_ x: [Float], rows: Int, weight: Tensor, eps: Float, offset: Float = 0) -> [Float] {
        let d = weight.count
        let scale = offset == 0 ? weight.data : weight.data.map { offset + $0 }
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            scale.withUnsafeBufferPointer { wp in
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

    /// dx [rows, D] of y = x * inv * w' with inv = 1 / sqrt(mean(x^2) + eps) and w' = offset + weight, frozen:
    /// dx_i = inv * w'_i dy_i - x_i * inv^3 / D * sum_j w'_j dy_j x_j. Rows are independent and each is summed in
    /// order, so splitting them among the threads changes no value.
    public static func backward(dy: [Float], x: [Float], rows: Int, weight: Tensor, eps: Float, offset: Float = 0) -> [Float] {
        let d = weight.count
        precondition(dy.count == rows * d && x.count == rows * d, "RMSNorm backward: \(x.count) values for \(rows) rows of \(d)")
        let scale = offset == 0 ? weight.data : weight.data.map { offset + $0 }
        var dx = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { dyp in
                scale.withUnsafeBufferPointer { sp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        let input = SendablePointer(UnsafeMutablePointer(mutating: xp.baseAddress!))
                        let gradient = SendablePointer(UnsafeMutablePointer(mutating: dyp.baseAddress!))
                        let weights = SendablePointer(UnsafeMutablePointer(mutating: sp.baseAddress!))
                        let output = SendablePointer(dxp.baseAddress!)
                        VectorMath.parallelRanges(rows, minimumWork: VectorMath.parallelElements / max(1, d)) { range in
                            for r in range {
                                let x = input.pointer + r * d, dy = gradient.pointer + r * d, w = weights.pointer
                                var sumSquares: Float = 0, dot: Float = 0
                                for i in 0..<d {
                                    sumSquares += x[i] * x[i]
                                    dot += w[i] * dy[i] * x[i]
                                }
                                let inverse = 1 / (sumSquares / Float(d) + eps).squareRoot()
                                let correction = dot * inverse * inverse * inverse / Float(d)
                                let dx = output.pointer + r * d
                                for i in 0..<d { dx[i] = inverse * w[i] * dy[i] - x[i] * correction }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
