/// Weights of one block, Hugging Face layout (Q/K rows in `rotate_half` order).
public struct LayerWeights: Equatable, Sendable {
    public var attentionNorm: Tensor  // [D]
    public var q: Tensor              // [H*hd, D]
    public var k: Tensor              // [KV*hd, D]
    public var v: Tensor              // [KV*hd, D]
    public var o: Tensor              // [D, H*hd]
    public var mlpNorm: Tensor        // [D]
    public var gate: Tensor           // [I, D]
    public var up: Tensor             // [I, D]
    public var down: Tensor           // [D, I]

    public init(attentionNorm: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor,
                mlpNorm: Tensor, gate: Tensor, up: Tensor, down: Tensor) {
        self.attentionNorm = attentionNorm
        self.q = q
        self.k = k
        self.v = v
        self.o = o
        self.mlpNorm = mlpNorm
        self.gate = gate
        self.up = up
        self.down = down
    }
}

/// A whole model in fp32.
public struct ModelWeights: Equatable, Sendable {
    public var config: ModelConfig
    public var embedding: Tensor      // [V, D]
    public var layers: [LayerWeights]
    public var finalNorm: Tensor      // [D]
    public var output: Tensor?        // [V, D]; nil when tied to the embedding

    public init(config: ModelConfig, embedding: Tensor, layers: [LayerWeights], finalNorm: Tensor, output: Tensor?) {
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.output = output
    }

    /// The matrix the final hidden state is multiplied by: [V, D].
    public var outputMatrix: Tensor { output ?? embedding }

    /// The expected shape of every tensor, under its Hugging Face name, in file order.
    public static func expectedShapes(_ config: ModelConfig) -> [(name: String, shape: [Int])] {
        let d = config.hidden, hd = config.headDim
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [config.vocabSize, d])]
        for (i, layer) in config.layers.enumerated() {
            let p = "model.layers.\(i)."
            shapes += [
                (p + "input_layernorm.weight", [d]),
                (p + "self_attn.q_proj.weight", [layer.heads * hd, d]),
                (p + "self_attn.k_proj.weight", [layer.kvHeads * hd, d]),
                (p + "self_attn.v_proj.weight", [layer.kvHeads * hd, d]),
                (p + "self_attn.o_proj.weight", [d, layer.heads * hd]),
                (p + "post_attention_layernorm.weight", [d]),
                (p + "mlp.gate_proj.weight", [layer.intermediate, d]),
                (p + "mlp.up_proj.weight", [layer.intermediate, d]),
                (p + "mlp.down_proj.weight", [d, layer.intermediate]),
            ]
        }
        shapes.append(("model.norm.weight", [d]))
        if !config.tiedEmbeddings { shapes.append(("lm_head.weight", [config.vocabSize, d])) }
        return shapes
    }

    /// Every tensor under its Hugging Face name, in the order of `expectedShapes`.
    public func namedTensors() -> [(name: String, tensor: Tensor)] {
        var tensors = [embedding]
        for layer in layers {
            tensors += [layer.attentionNorm, layer.q, layer.k, layer.v, layer.o, layer.mlpNorm, layer.gate, layer.up, layer.down]
        }
        tensors.append(finalNorm)
        if let output { tensors.append(output) }
        return zip(Self.expectedShapes(config), tensors).map { ($0.name, $1) }
    }

    /// Builds the model from tensors keyed by Hugging Face name; every tensor must be present with the
    /// shape the config implies. Errors name `file`.
    public init(config: ModelConfig, tensors: [String: Tensor], file: String) throws {
        try config.validate(file: file)
        var ordered: [Tensor] = []
        for (name, shape) in Self.expectedShapes(config) {
            guard let tensor = tensors[name] else { throw MopError(file: file, "missing tensor \(name)") }
            // A 1 x N matrix and an N vector hold the same numbers; only the element count and matrix rows matter.
            guard tensor.shape.reduce(1, *) == shape.reduce(1, *), tensor.shape.first == shape.first else {
                throw MopError(file: file, "tensor \(name) has shape \(tensor.shape), the config implies \(shape)")
            }
            ordered.append(Tensor(shape: shape, data: tensor.data))
        }
        var next = ordered.makeIterator()
        embedding = next.next()!
        layers = config.layers.map { _ in
            LayerWeights(attentionNorm: next.next()!, q: next.next()!, k: next.next()!, v: next.next()!, o: next.next()!,
                         mlpNorm: next.next()!, gate: next.next()!, up: next.next()!, down: next.next()!)
        }
        finalNorm = next.next()!
        output = config.tiedEmbeddings ? nil : next.next()!
        self.config = config
    }

    /// A random model for tests and benchmarks: uniform weights scaled by 1/sqrt(fan-in), norms near one.
    public static func random(config: ModelConfig, seed: UInt64) -> ModelWeights {
        var rng = SeededRandom(seed: seed)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in expectedShapes(config) {
            let count = shape.reduce(1, *)
            let data: [Float]
            if shape.count == 1 {
                data = (0..<count).map { _ in 1 + rng.uniform(0.2) }
            } else {
                let scale = 1 / Float(shape[1]).squareRoot()
                data = (0..<count).map { _ in rng.uniform(scale) }
            }
            tensors[name] = Tensor(shape: shape, data: data)
        }
        // The shapes come from the config itself, so construction cannot fail.
        return try! ModelWeights(config: config, tensors: tensors, file: "<random>")
    }
}
