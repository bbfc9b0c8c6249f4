import Shared

/// Zero neurons appended to a pruned layer so its feed-forward width is whole blocks of a block type: a quantized
/// GGUF's down projection then stays in the block type instead of llama.cpp's F16 fallback for rows that are not whole
/// blocks (which would make the pruned file larger, and slower, than the unpruned one). The model is the same function:
/// an added neuron has zero gate and up rows, so its activation SiLU(0) * 0 is exactly 0, and its zero down column
/// adds nothing.
public enum NeuronPadding {
    /// `weights` with every layer's intermediate width rounded up to a multiple of `multiple`.
    /// gate, up: [I, D] -> [I', D] (zero rows added); down: [D, I] -> [D, I'] (zero columns added).
    public static func padded(_ weights: ModelWeights, toMultipleOf multiple: Int) -> ModelWeights {
        var result = weights
        let d = weights.config.hidden
        for (index, shape) in weights.config.layers.enumerated() where shape.intermediate % multiple != 0 {
            let width = shape.intermediate, wide = (width + multiple - 1) / multiple * multiple
            let extra = [Float](repeating: 0, count: (wide - width) * d)
            var layer = weights.layers[index]
            layer.gate = Tensor(shape: [wide, d], data: layer.gate.data + extra)
            layer.up = Tensor(shape: [wide, d], data: layer.up.data + extra)
            let down = layer.down.data, zeros = [Float](repeating: 0, count: wide - width)
            var rows: [Float] = []
            rows.reserveCapacity(d * wide)
            for row in 0..<d { rows += down[(row * width)..<((row + 1) * width)] + zeros }
            layer.down = Tensor(shape: [d, wide], data: rows)
            result.layers[index] = layer
            result.config.layers[index].intermediate = wide
        }
        return result
    }
}
