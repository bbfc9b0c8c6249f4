/// The importance matrix of a model for its quantized export, as llama.cpp's imatrix holds it: for every linear layer,
/// the mean over the calibration tokens of each input column's squared value (q, k and v share the attention input,
/// gate and up the MLP input; o reads the attention output, down the MLP activation). `GGUFWriter` hands each row of
/// a matrix these weights as the block encoders' `quant_weights`, so columns that carry large inputs are quantized
/// more finely.
///
/// Packed for a reduce (`ScoringRequest.quantImportance`): per layer the sums over tokens of the squared attention
/// input [D], attention output [H*hd], MLP input [D] and MLP activation [I], then the token count.
public enum QuantImportance {
    /// The four inputs of a block's linear layers, in packing order.
    public enum Input: Int, CaseIterable, Sendable {
        case attention, attentionOutput, mlp, mlpActivation

        /// Columns of this input in a layer of `shape`.
        public func width(_ shape: LayerShape, hidden: Int, headDim: Int) -> Int {
            switch self {
            case .attention, .mlp: hidden
            case .attentionOutput: shape.heads * headDim
            case .mlpActivation: shape.intermediate
            }
        }

        /// The input a block tensor of `role` multiplies (nil for norms and biases).
        init?(role: BlockTensor.Role) {
            switch role {
            case .q, .k, .v: self = .attention
            case .o: self = .attentionOutput
            case .gate, .up: self = .mlp
            case .down: self = .mlpActivation
            default: return nil
            }
        }
    }

    /// Values in a packed answer for a model of shape `config`.
    public static func packedCount(_ config: ModelConfig) -> Int {
        config.layers.reduce(1) { total, shape in
            total + Input.allCases.reduce(0) { $0 + $1.width(shape, hidden: config.hidden, headDim: config.headDim) }
        }
    }

    /// Offset of `input` of layer `layer` in the packed sums.
    public static func offset(_ config: ModelConfig, layer: Int, input: Input) -> Int {
        func width(_ shape: LayerShape, _ input: Input) -> Int { input.width(shape, hidden: config.hidden, headDim: config.headDim) }
        let before = config.layers[..<layer].reduce(0) { total, shape in total + Input.allCases.reduce(0) { $0 + width(shape, $1) } }
        return before + Input.allCases[..<input.rawValue].reduce(0) { $0 + width(config.layers[layer], $1) }
    }

    /// The mean squared input per column of every linear layer of a model of shape `config`, by Hugging Face tensor
    /// name, from reduced packed sums; empty when no token was counted.
    public static func means(packedSums: [Double], config: ModelConfig) -> [String: [Float]] {
        precondition(packedSums.count == packedCount(config), "\(packedSums.count) importance sums for \(packedCount(config))")
        guard let tokens = packedSums.last, tokens > 0 else { return [:] }
        var result: [String: [Float]] = [:]
        for (index, shape) in config.layers.enumerated() {
            for tensor in config.architecture.blockTensors {
                guard let input = Input(role: tensor.role) else { continue }
                let start = offset(config, layer: index, input: input)
                let width = input.width(shape, hidden: config.hidden, headDim: config.headDim)
                result[ModelWeights.blockPrefix(index) + tensor.hfName] = packedSums[start..<(start + width)].map { Float($0 / tokens) }
            }
        }
        return result
    }
}
