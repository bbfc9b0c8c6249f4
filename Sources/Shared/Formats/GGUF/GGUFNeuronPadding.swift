/// Zero neurons appended to a pruned layer so its feed-forward width is whole blocks of a block type: a quantized
/// GGUF's down projection then stays in the block type instead of llama.cpp's F16 fallback for rows that are not whole
/// blocks (which would make the pruned file larger, and slower, than the unpruned one). The model is the same function:
/// an added neuron has zero gate and up rows, so its activation SiLU(0) * 0 is exactly 0, and its zero down column
/// adds nothing. `GGUFWriter` pads one tensor at a time, as it writes it, so no more than one is held padded.
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

    /// The padded shape of the tensor named `hfName` of shape `shape`.
    public func shape(_ shape: [Int], hfName: String) -> [Int] {
        guard let (layer, role) = block(hfName) else { return shape }
        switch role {
        case .gate, .up: return [width(layer), config.hidden]
        case .down: return [config.hidden, width(layer)]
        default: return shape
        }
    }

    /// `tensor` (named `hfName`) padded: gate, up [I, D] -> [I', D] with zero rows; down [D, I] -> [D, I'] with zero
    /// columns; any other tensor, or a width already whole, as it is.
    public func tensor(_ tensor: Tensor, hfName: String) -> Tensor {
        let target = shape(tensor.shape, hfName: hfName)
        guard target != tensor.shape, let (layer, role) = block(hfName) else { return tensor }
        let d = config.hidden, width = config.layers[layer].intermediate, wide = target[role == .down ? 1 : 0]
        if role != .down { return Tensor(shape: target, data: tensor.data + [Float](repeating: 0, count: (wide - width) * d)) }
        let down = tensor.data, zeros = [Float](repeating: 0, count: wide - width)
        var rows: [Float] = []
        rows.reserveCapacity(d * wide)
        for row in 0..<d { rows += down[(row * width)..<((row + 1) * width)] + zeros }
        return Tensor(shape: target, data: rows)
    }

    /// The layer and role of a feed-forward matrix's Hugging Face name, nil for any other tensor.
    private func block(_ hfName: String) -> (Int, BlockTensor.Role)? {
        guard multiple > 1, hfName.hasPrefix("model.layers.") else { return nil }
        let rest = hfName.dropFirst("model.layers.".count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), config.layers.indices.contains(layer),
              let tensor = config.architecture.blockTensors.first(where: { $0.hfName == rest[rest.index(after: dot)...] }),
              [.gate, .up, .down].contains(tensor.role) else { return nil }
        return (layer, tensor.role)
    }
}
