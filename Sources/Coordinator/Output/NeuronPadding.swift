import Shared

/// Zero neurons appended to a pruned layer so its feed-forward width is whole blocks of a block type: a quantized
/// GGUF's down projection then stays in the block type instead of llama.cpp's F16 fallback for rows that are not whole
/// blocks (which would make the pruned file larger, and slower, than the unpruned one). The model is the same function:
/// an added neuron's rows (gate, up and their biases) are zero and its down column is zero, so whatever its activation
/// is, it adds nothing to the stream.
public enum NeuronPadding {
    /// `weights` with every layer's intermediate width rounded up to a multiple of `multiple`: the family's tensors cut
    /// by neuron rows ([I, D] or [I]) get zero rows, those cut by neuron columns ([D, I]) zero columns.
    public static func padded(_ weights: ModelWeights, toMultipleOf multiple: Int) -> ModelWeights {
        var result = weights
        let tensors = weights.config.architecture.blockTensors
        for (index, shape) in weights.config.layers.enumerated() where shape.intermediate % multiple != 0 {
            let width = shape.intermediate, wide = (width + multiple - 1) / multiple * multiple
            var layer = weights.layers[index]
            for entry in tensors {
                guard let tensor = layer[entry.role] else { continue }
                switch entry.slicing {
                case .neuronRows:
                    let rowLength = tensor.data.count / width
                    let shape = tensor.shape.count == 1 ? [wide] : [wide, rowLength]
                    layer[entry.role] = Tensor(shape: shape, data: tensor.data + [Float](repeating: 0, count: (wide - width) * rowLength))
                case .neuronColumns:
                    let rows = tensor.data.count / width, zeros = [Float](repeating: 0, count: wide - width)
                    var data: [Float] = []
                    data.reserveCapacity(rows * wide)
                    for row in 0..<rows { data += tensor.data[(row * width)..<((row + 1) * width)] + zeros }
                    layer[entry.role] = Tensor(shape: [rows, wide], data: data)
                case .none, .queryHeadRows, .kvHeadRows, .queryHeadColumns:
                    continue
                }
            }
            result.layers[index] = layer
            result.config.layers[index].intermediate = wide
        }
        return result
    }
}
