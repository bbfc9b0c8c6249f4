/// y = x / sqrt(mean(x^2) + eps) * weight, row by row. x, y: [rows, D]; weight: [D].
public enum RMSNorm {
    public static func forward(_ x: [Float], rows: Int, weight: Tensor, eps: Float) -> [Float] {
        let d = weight.count
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    for r in 0..<rows {
                        let row = xp.baseAddress! + r * d, out = yp.baseAddress! + r * d
                        var sumSquares: Float = 0
                        for i in 0..<d { sumSquares += row[i] * row[i] }
                        let inverse = 1 / (sumSquares / Float(d) + eps).squareRoot()
                        for i in 0..<d { out[i] = row[i] * inverse * wp[i] }
                    }
                }
            }
        }
        return y
    }
}
