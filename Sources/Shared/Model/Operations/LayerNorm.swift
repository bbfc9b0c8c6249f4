/// y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, row by row (Phi); x, y: [rows, D], weight and bias: [D].
/// The forward runs in the C kernels (mean and variance summed in float lanes per run, runs in float64); the
/// backward's statistics are summed in float64.
public enum LayerNorm {
    public static func forward(_ x: [Float], rows: Int, weight: Tensor, bias: Tensor?, eps: Float) -> [Float] {
        let d = weight.count
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            weight.data.withUnsafeBufferPointer { wp in
                (bias?.data ?? []).withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { yp in
                        let input = SendablePointer(UnsafeMutablePointer(mutating: xp.baseAddress!))
                        let weights = SendablePointer(UnsafeMutablePointer(mutating: wp.baseAddress!))
                        let biases = bias == nil ? nil : SendablePointer(UnsafeMutablePointer(mutating: bp.baseAddress!))
                        let output = SendablePointer(yp.baseAddress!)
                        // Rows are independent, so splitting them among the threads changes no value.
                        VectorMath.parallelRanges(rows, minimumWork: VectorMath.parallelElements / max(1, d)) { range in
                            let offset = range.lowerBound * d
                            VectorMath.kernels.layernorm(input.pointer + offset, weights.pointer, biases?.pointer,
                                                         output.pointer + offset, Int64(range.count), Int64(d), eps)
                        }
                    }
                }
            }
        }
        return y
    }

    /// dx [rows, D] with the weight and bias frozen: with xhat = (x - mean) * inv and g = weight * dy,
    /// dx = inv * (g - mean(g) - xhat * mean(g * xhat)).
    public static func backward(dy: [Float], x: [Float], rows: Int, weight: Tensor, eps: Float) -> [Float] {
        let d = weight.count
        var dx = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let (mean, inverse) = statistics(x, row: r, width: d, eps: eps)
            var meanG = 0.0, meanGX = 0.0
            for i in 0..<d {
                let g = Double(weight.data[i] * dy[r * d + i]), xhat = (Double(x[r * d + i]) - mean) * inverse
                meanG += g
                meanGX += g * xhat
            }
            meanG /= Double(d)
            meanGX /= Double(d)
            for i in 0..<d {
                let g = Double(weight.data[i] * dy[r * d + i]), xhat = (Double(x[r * d + i]) - mean) * inverse
                dx[r * d + i] = Float(inverse * (g - meanG - xhat * meanGX))
            }
        }
        return dx
    }

    /// Mean and 1 / sqrt(variance + eps) of one row (the biased variance, as torch's layer_norm).
    private static func statistics(_ x: [Float], row r: Int, width d: Int, eps: Float) -> (mean: Double, inverse: Double) {
        var sum = 0.0
        for i in 0..<d { sum += Double(x[r * d + i]) }
        let mean = sum / Double(d)
        var squares = 0.0
        for i in 0..<d {
            let centered = Double(x[r * d + i]) - mean
            squares += centered * centered
        }
        return (mean, 1 / (squares / Double(d) + Double(eps)).squareRoot())
    }
}

/// The norm a family uses everywhere (blocks, q/k norms, final norm), with its forward and backward.
public enum NormKind: Equatable, Sendable {
    /// RMSNorm multiplying by (offset + w).
    case rms(weightOffset: Float)
    /// LayerNorm with a bias.
    case layer

    /// The config.json and GGUF keys (after `ARCH.`) of its epsilon.
    var epsilonKeys: (hf: String, gguf: String) {
        switch self {
        case .rms: ("rms_norm_eps", "attention.layer_norm_rms_epsilon")
        case .layer: ("layer_norm_eps", "attention.layer_norm_epsilon")
        }
    }

    func forward(_ x: [Float], rows: Int, weight: Tensor, bias: Tensor?, eps: Float) -> [Float] {
        switch self {
        case .rms(let offset): RMSNorm.forward(x, rows: rows, weight: weight, eps: eps, offset: offset)
        case .layer: LayerNorm.forward(x, rows: rows, weight: weight, bias: bias, eps: eps)
        }
    }

    func backward(dy: [Float], x: [Float], rows: Int, weight: Tensor, eps: Float) -> [Float] {
        switch self {
        case .rms(let offset): RMSNorm.backward(dy: dy, x: x, rows: rows, weight: weight, eps: eps, offset: offset)
        case .layer: LayerNorm.backward(dy: dy, x: x, rows: rows, weight: weight, eps: eps)
        }
    }
}
