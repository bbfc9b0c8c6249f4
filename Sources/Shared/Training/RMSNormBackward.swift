extension RMSNorm {
    /// dx [rows, D] of y = x * inv * w with inv = 1 / sqrt(mean(x^2) + eps), the weight frozen:
    /// dx_i = inv * w_i dy_i - x_i * inv^3 / D * sum_j w_j dy_j x_j.
    public static func backward(dy: [Float], x: [Float], rows: Int, weight: Tensor, eps: Float) -> [Float] {
        let d = weight.count
        var dx = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let base = r * d
            var sumSquares: Float = 0, dot: Float = 0
            for i in 0..<d {
                sumSquares += x[base + i] * x[base + i]
                dot += weight.data[i] * dy[base + i] * x[base + i]
            }
            let inverse = 1 / (sumSquares / Float(d) + eps).squareRoot()
            let correction = dot * inverse * inverse * inverse / Float(d)
            for i in 0..<d { dx[base + i] = inverse * weight.data[i] * dy[base + i] - x[base + i] * correction }
        }
        return dx
    }
}
