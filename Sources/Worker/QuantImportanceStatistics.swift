import Shared

/// Collects `QuantImportance`'s sums during a forward pass over the calibration shard: every linear layer's input,
/// squared, summed per column over all tokens (as llama.cpp's imatrix collector sums them), in float64.
public final class QuantImportanceStatistics: ForwardObserver {
    private let config: ModelConfig
    private var sums: [Double]

    public init(config: ModelConfig) {
        self.config = config
        sums = [Double](repeating: 0, count: QuantImportance.packedCount(config))
    }

    /// The sums with `tokens` as the token count: a pipeline stage counts 0 unless it is the one stage that counts.
    public func packed(tokens: Int) -> [Double] {
        var result = sums
        result[result.count - 1] = Double(tokens)
        return result
    }

    public func attentionInput(layer: Int, h: [Float], segments: [Range<Int>]) { add(h, layer, .attention) }
    public func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>]) { add(z, layer, .attentionOutput) }
    public func mlpInput(layer: Int, h: [Float], segments: [Range<Int>]) { add(h, layer, .mlp) }
    public func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) { add(a, layer, .mlpActivation) }

    /// Adds x [N, width]'s squared columns to the sums of `input` of `layer`.
    private func add(_ x: [Float], _ layer: Int, _ input: QuantImportance.Input) {
        let width = input.width(config.layers[layer], hidden: config.hidden, headDim: config.headDim)
        let start = QuantImportance.offset(config, layer: layer, input: input)
        precondition(x.count % width == 0, "\(x.count) values in rows of \(width)")
        sums.withUnsafeMutableBufferPointer { total in
            x.withUnsafeBufferPointer { values in
                for row in 0..<x.count / width {
                    for column in 0..<width {
                        let v = Double(values[row * width + column])
                        total[start + column] += v * v
                    }
                }
            }
        }
    }
}
