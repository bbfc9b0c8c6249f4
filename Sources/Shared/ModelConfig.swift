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

/// Architecture of a LLaMA-family model, in the Hugging Face layout used inside the program.
public struct ModelConfig: Equatable, Sendable {
    public var vocabSize: Int
    public var hidden: Int
    public var headDim: Int
    public var layers: [LayerShape]
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling?
    public var tiedEmbeddings: Bool
    public var maxPositions: Int

    public init(vocabSize: Int, hidden: Int, headDim: Int, layers: [LayerShape], rmsNormEps: Float = 1e-5,
                ropeTheta: Float = 10000, ropeScaling: RopeScaling? = nil, tiedEmbeddings: Bool,
                maxPositions: Int = 2048) {
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

    /// Parameters of one block: q, k, v, o, gate, up, down and the two norms.
    public func blockParameters(_ layer: LayerShape) -> Int {
        let attention = 2 * hidden * layer.heads * headDim + 2 * hidden * layer.kvHeads * headDim
        let mlp = 3 * hidden * layer.intermediate
        return attention + mlp + 2 * hidden
    }

    /// Embedding parameters: the input table, plus the output head when it is not tied.
    public var embeddingParameters: Int { vocabSize * hidden * (tiedEmbeddings ? 1 : 2) }

    /// Every parameter counted once (a tied embedding once).
    public var parameters: Int { embeddingParameters + nonEmbeddingParameters }

    /// Blocks plus the final norm.
    public var nonEmbeddingParameters: Int { layers.map(blockParameters).reduce(0, +) + hidden }

    /// Checks the invariants the engine relies on; `file` names the source in the error.
    public func validate(file: String) throws {
        func fail(_ problem: String) -> MopError { MopError(file: file, problem) }
        guard vocabSize > 0, hidden > 0, headDim > 0 else { throw fail("vocabulary, hidden size and head dimension must be positive") }
        guard !layers.isEmpty else { throw fail("the model has no layers") }
        guard headDim % 2 == 0 else { throw fail("head dimension \(headDim) is odd; RoPE needs pairs") }
        for (index, layer) in layers.enumerated() {
            guard layer.heads > 0, layer.kvHeads > 0, layer.intermediate > 0 else {
                throw fail("layer \(index) has a zero head, KV-head or intermediate count")
            }
            guard layer.heads % layer.kvHeads == 0 else {
                throw fail("layer \(index): \(layer.heads) query heads do not divide into \(layer.kvHeads) KV groups")
            }
        }
    }
}
