/// The shape of one transformer block. Pruned models differ from layer to layer, so every block carries its own.
public struct LayerShape: Equatable, Hashable, Codable, Sendable {
    public var heads: Int
    public var kvHeads: Int
    public var intermediate: Int

    public init(heads: Int, kvHeads: Int, intermediate: Int) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.intermediate = intermediate
    }
}

/// LLaMA 3 style RoPE frequency scaling (`rope_scaling.rope_type == "llama3"`).
public struct RopeScaling: Equatable, Sendable {
    public var factor: Float
    public var lowFreqFactor: Float
    public var highFreqFactor: Float
    public var originalMaxPositions: Int

    public init(factor: Float, lowFreqFactor: Float, highFreqFactor: Float, originalMaxPositions: Int) {
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositions = originalMaxPositions
    }
}

/// How one layer attends: its RoPE base and its sliding window (nil: global). Gemma-3 alternates five sliding
/// layers (base 10k, 512 positions) with one global layer (base 1e6); depth pruning keeps each layer's own.
public struct LayerAttention: Equatable, Hashable, Sendable {
    public var ropeTheta: Float
    public var window: Int?

    public init(ropeTheta: Float, window: Int? = nil) {
        self.ropeTheta = ropeTheta
        self.window = window
    }
}

/// The shape of a model, in the Hugging Face layout used inside the program.
public struct ModelConfig: Equatable, Sendable {
    /// The family: which tensors a block has and how files name them.
    public var architecture: Architecture
    public var vocabSize: Int
    public var hidden: Int
    public var headDim: Int
    public var layers: [LayerShape]
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling?
    public var tiedEmbeddings: Bool
    public var maxPositions: Int
    /// Per layer, where layers differ in how they attend (one entry per layer); nil: every layer global at
    /// `ropeTheta`.
    public var layerAttention: [LayerAttention]?
    /// The factor of q.k (Gemma-3: query_pre_attn_scalar^-1/2); nil: 1/sqrt(headDim).
    public var attentionScale: Float?
    /// The leading elements of each head RoPE rotates (Phi's partial rotary); nil: the whole head.
    public var rotaryDims: Int?
    /// The final logit soft-cap (`SoftCap`, config.json's `final_logit_softcapping`); nil: logits as computed.
    public var finalLogitSoftCap: Float?

    public init(vocabSize: Int, hidden: Int, headDim: Int, layers: [LayerShape], rmsNormEps: Float = 1e-5,
                ropeTheta: Float = 10000, ropeScaling: RopeScaling? = nil, tiedEmbeddings: Bool,
                maxPositions: Int = 2048, architecture: Architecture = .llama,
                layerAttention: [LayerAttention]? = nil, attentionScale: Float? = nil, rotaryDims: Int? = nil,
                finalLogitSoftCap: Float? = nil) {
        self.rotaryDims = rotaryDims
        self.finalLogitSoftCap = finalLogitSoftCap
        self.layerAttention = layerAttention
        self.attentionScale = attentionScale
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hidden = hidden
        self.headDim = headDim
        self.layers = layers
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.tiedEmbeddings = tiedEmbeddings
        self.maxPositions = maxPositions
    }

    /// True when every block has the same shape, so standard `llama` files can describe the model.
    public var isUniform: Bool { Set(layers).count <= 1 }

    /// The leading elements of each head RoPE rotates.
    public var rotaryDimensions: Int { rotaryDims ?? headDim }

    /// How layer `index` attends.
    public func attention(layer index: Int) -> LayerAttention {
        layerAttention?[index] ?? LayerAttention(ropeTheta: ropeTheta)
    }

    /// The scores of layer `index`: its scale and window.
    public func window(layer index: Int) -> Attention.Window {
        Attention.Window(scale: attentionScale ?? 1 / Float(headDim).squareRoot(), size: attention(layer: index).window)
    }

    /// The config of a model keeping original layers `kept` (ascending): each keeps its shape `shapes[i]` and its
    /// own attention.
    public func keeping(_ kept: [Int], shapes: [LayerShape]) -> ModelConfig {
        var config = self
        config.layers = shapes
        config.layerAttention = layerAttention.map { all in kept.map { all[$0] } }
        return config
    }

    /// The shape of every tensor of a block of shape `layer`, in the architecture's order.
    public func blockTensorShapes(_ layer: LayerShape) -> [(tensor: BlockTensor, shape: [Int])] {
        architecture.blockTensors.map { ($0, $0.shape(layer, hidden: hidden, headDim: headDim)) }
    }

    /// Parameters of one block (q, k, v, o, gate, up, down, the two norms and any biases). Exact for a validated
    /// config, whose bounds keep every count far from overflow; `checkedParameters` is the overflow-safe form.
    public func blockParameters(_ layer: LayerShape) -> Int {
        blockTensorShapes(layer).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// The parameters of a block that pruning can remove: every tensor cut by head or neuron (not the norms).
    public func prunableBlockParameters(_ layer: LayerShape) -> Int {
        blockTensorShapes(layer).filter { $0.tensor.slicing != .none }.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// The parameters one query head, one KV head or one neuron holds in a block (what removing it frees): the
    /// share of every tensor the table slices that way, biases included.
    public var queryHeadParameters: Int { unitParameters([.queryHeadRows, .queryHeadColumns]) }
    public var kvHeadParameters: Int { unitParameters([.kvHeadRows]) }
    public var neuronParameters: Int { unitParameters([.neuronRows, .neuronColumns]) }

    private func unitParameters(_ slicings: Set<BlockTensor.Slicing>) -> Int {
        blockTensorShapes(LayerShape(heads: 1, kvHeads: 1, intermediate: 1))
            .filter { slicings.contains($0.tensor.slicing) }.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// Embedding parameters: the input table, plus the output head when it is not tied.
    public var embeddingParameters: Int { vocabSize * hidden * (tiedEmbeddings ? 1 : 2) }

    /// Every parameter counted once (a tied embedding once).
    public var parameters: Int { embeddingParameters + nonEmbeddingParameters }

    /// Blocks plus the final norm.
    public var nonEmbeddingParameters: Int { layers.map(blockParameters).reduce(0, +) + hidden }

    /// `parameters`, or nil when a count overflows `Int` (a header stating absurd sizes).
    public var checkedParameters: Int? {
        func p(_ factors: [Int]) -> Int? { CheckedSize.product(factors) }
        var terms = [p([vocabSize, hidden, tiedEmbeddings ? 1 : 2]), hidden]
        for layer in layers {
            terms += architecture.blockTensors.map { p($0.shapeFactors(layer, hidden: hidden, headDim: headDim).flatMap { $0 }) }
        }
        let known = terms.compactMap { $0 }
        return known.count == terms.count ? CheckedSize.sum(known) : nil
    }

    // Bounds well above any real model (Llama 3 405B: 126 layers, 16384 wide, 53248 neurons, 128k vocabulary) that
    // keep every size the engine computes from a config far from Int overflow. Both readers (GGUF, config.json)
    // are held to them here, in one place.
    public static let maxDimension = 1 << 22
    public static let maxHeads = 1 << 12
    public static let maxLayers = 1 << 12
    public static let maxPositionCount = Int(Int32.max)

    /// Checks the invariants the engine relies on; `file` names the source in the error.
    public func validate(file: String) throws {
        func fail(_ problem: String) -> MopError { MopError(file: file, problem) }
        func check(_ name: String, _ value: Int, _ limit: Int) throws {
            guard (1...limit).contains(value) else { throw fail("\(name) \(value) is outside 1...\(limit)") }
        }
        try check("vocabulary size", vocabSize, Self.maxDimension)
        try check("hidden size", hidden, Self.maxDimension)
        try check("head dimension", headDim, Self.maxHeads)
        try check("layer count", layers.count, Self.maxLayers)
        try check("context length (positions)", maxPositions, Self.maxPositionCount)
        guard headDim % 2 == 0 else { throw fail("head dimension \(headDim) is odd; RoPE needs pairs") }
        for (index, layer) in layers.enumerated() {
            try check("layer \(index) head count", layer.heads, Self.maxHeads)
            try check("layer \(index) KV-head count", layer.kvHeads, Self.maxHeads)
            try check("layer \(index) intermediate size", layer.intermediate, Self.maxDimension)
            guard layer.heads % layer.kvHeads == 0 else {
                throw fail("layer \(index): \(layer.heads) query heads do not divide into \(layer.kvHeads) KV groups")
            }
        }
        // An epsilon of 1 or more swamps the activations' mean square; theta <= 1 gives frequencies that do not decay.
        guard rmsNormEps.isFinite, rmsNormEps > 0, rmsNormEps < 1 else {
            throw fail("RMSNorm epsilon \(rmsNormEps) is outside (0, 1)")
        }
        guard ropeTheta.isFinite, ropeTheta > 1 else { throw fail("RoPE theta \(ropeTheta) is not a finite number above 1") }
        if let layerAttention {
            guard layerAttention.count == layers.count else {
                throw fail("\(layerAttention.count) layer attention entries for \(layers.count) layers")
            }
            for (index, entry) in layerAttention.enumerated() {
                guard entry.ropeTheta.isFinite, entry.ropeTheta > 1 else {
                    throw fail("layer \(index) RoPE theta \(entry.ropeTheta) is not a finite number above 1")
                }
                if let window = entry.window, !(1...Self.maxPositionCount).contains(window) {
                    throw fail("layer \(index) sliding window \(window) is outside 1...\(Self.maxPositionCount)")
                }
            }
        }
        if let rotaryDims, !(rotaryDims > 0 && rotaryDims <= headDim && rotaryDims % 2 == 0) {
            throw fail("rotary dimensions \(rotaryDims) must be even and within the head dimension \(headDim)")
        }
        if let attentionScale, !(attentionScale.isFinite && attentionScale > 0) {
            throw fail("attention scale \(attentionScale) is not a positive finite number")
        }
        if let finalLogitSoftCap, !(finalLogitSoftCap.isFinite && finalLogitSoftCap > 0) {
            throw fail("final logit soft-cap \(finalLogitSoftCap) is not a positive finite number")
        }
        if let s = ropeScaling {
            guard [s.factor, s.lowFreqFactor, s.highFreqFactor].allSatisfy({ $0.isFinite && $0 > 0 }),
                  s.highFreqFactor > s.lowFreqFactor, s.originalMaxPositions > 0 else {
                throw fail("llama3 rope scaling needs positive factors with high_freq_factor above low_freq_factor")
            }
        }
        guard checkedParameters != nil else { throw fail("the parameter count overflows") }
    }
}
