/// A pruning step applied as a mask instead of by surgery, so a candidate costs no weight memory
/// (docs/design.md#masks-equal-surgery): a removed block is skipped, a removed head's output (its slice of the o_proj
/// input) is zero, a removed neuron's activation (its slice of the down_proj input) is zero. That is exactly the
/// arithmetic of the physically pruned model.
public struct ModelMask: Sendable {
    public struct Layer: Sendable {
        /// Per current query head: does it take part? nil when all do.
        public let heads: [Bool]?
        /// Per current neuron: does it take part? nil when all do.
        public let neurons: [Bool]?

        public init(heads: [Bool]? = nil, neurons: [Bool]? = nil) {
            self.heads = heads
            self.neurons = neurons
        }

        public static let unmasked = Layer()
    }

    /// Per current layer; nil for a skipped block.
    public let layers: [Layer?]

    /// No masking at all.
    public init(unmasked config: ModelConfig) {
        layers = config.layers.map { _ in .unmasked }
    }

    /// `step` is a structure over the current model (its `originalLayers` is the current layer count), as
    /// `PruningStructure.composed(with:)` takes it.
    public init(step: PruningStructure, config: ModelConfig) throws {
        try step.validate(against: config, file: "<candidate>")
        var layers = [Layer?](repeating: nil, count: config.layers.count)
        for kept in step.layers {
            let shape = config.layers[kept.index]
            func flags(_ kept: [Int], of count: Int) -> [Bool]? {
                guard kept.count < count else { return nil }
                var flags = [Bool](repeating: false, count: count)
                for index in kept { flags[index] = true }
                return flags
            }
            layers[kept.index] = Layer(heads: flags(kept.heads, of: shape.heads),
                                       neurons: flags(kept.neurons, of: shape.intermediate))
        }
        self.layers = layers
    }
}

/// Sees the activations of a forward pass, layer by layer (AMP statistics, block influence). Arrays are the stacked
/// rows of the batch, `segments` their sequences.
public protocol ForwardObserver: AnyObject {
    /// The input of o_proj, the concatenated (masked) head outputs: [N, H*hd].
    func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>])
    /// The input of down_proj, SiLU(gate) * up (masked): [N, I].
    func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>])
    /// The residual stream before and after the block: [N, D] each.
    func block(layer: Int, input: [Float], output: [Float], segments: [Range<Int>])
    /// The input of q/k/v_proj, RMSNorm(x): [N, D].
    func attentionInput(layer: Int, h: [Float], segments: [Range<Int>])
    /// The input of gate/up_proj, RMSNorm(x + o(z)): [N, D].
    func mlpInput(layer: Int, h: [Float], segments: [Range<Int>])
}

extension ForwardObserver {
    public func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>]) {}
    public func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) {}
    public func block(layer: Int, input: [Float], output: [Float], segments: [Range<Int>]) {}
    public func attentionInput(layer: Int, h: [Float], segments: [Range<Int>]) {}
    public func mlpInput(layer: Int, h: [Float], segments: [Range<Int>]) {}
}
