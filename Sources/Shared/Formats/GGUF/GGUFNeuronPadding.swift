/// Zero neurons appended to a pruned layer so its feed-forward width is whole blocks of a block type: a quantized
/// GGUF's down projection then stays in the block type instead of llama.cpp's F16 fallback for rows that are not whole
/// blocks (which would make the pruned file larger, and slower, than the unpruned one). The model is the same function:
/// an added neuron's rows (gate, up and their biases) are zero and its down column is zero, so whatever its
/// activation is, it adds nothing to the stream. `GGUFWriter` pads each panel of rows as it writes it, so no tensor is ever held padded.
public struct GGUFNeuronPadding: Sendable {
    /// The model as pruned, and the multiple its widths are rounded up to (1: none).
    public let config: ModelConfig
    public let multiple: Int

    public init(config: ModelConfig, multiple: Int) {
        precondition(multiple >= 1, "padding to a multiple of \(multiple)")
        self.config = config
        self.multiple = multiple
    }

    /// The config with every layer's intermediate width rounded up.
    public var padded: ModelConfig {
        var result = config
        for index in result.layers.indices { result.layers[index].intermediate = width(index) }
        return result
    }

    private func width(_ layer: Int) -> Int { (config.layers[layer].intermediate + multiple - 1) / multiple * multiple }

    /// The padded shape of the tensor named `hfName` of shape `shape`: a tensor the family cuts by neuron rows
    /// ([I, D] or [I]) gets I' rows, one cut by neuron columns ([D, I]) I' columns.
    public func shape(_ shape: [Int], hfName: String) -> [Int] {
        guard let (layer, slicing) = block(hfName) else { return shape }
        return slicing == .neuronRows ? [width(layer)] + shape.dropFirst() : [shape[0], width(layer)]
    }

    /// `rows` (the tensor named `hfName`) padded with zero rows or columns as `shape` says, a panel at a time as the
    /// writer asks for them; any other tensor, or a width already whole, as it is.
    public func rows(_ rows: TensorRows, hfName: String) -> TensorRows {
        let target = shape(rows.shape, hfName: hfName)
        return target == rows.shape ? rows : rows.padded(rows: target[0], columns: target.dropFirst().reduce(1, *))
    }

    /// The layer and slicing of a tensor the family cuts by neurons, from its Hugging Face name; nil for any other.
    private func block(_ hfName: String) -> (Int, BlockTensor.Slicing)? {
        guard multiple > 1, hfName.hasPrefix("model.layers.") else { return nil }
        let rest = hfName.dropFirst("model.layers.".count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), config.layers.indices.contains(layer),
              let tensor = config.architecture.blockTensors.first(where: { $0.hfName == rest[rest.index(after: dot)...] }),
              tensor.slicing == .neuronRows || tensor.slicing == .neuronColumns else { return nil }
        return (layer, tensor.slicing)
    }
}
