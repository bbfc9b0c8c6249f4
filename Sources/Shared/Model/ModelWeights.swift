/// Weights of one block, Hugging Face layout (Q/K rows in `rotate_half` order). Which tensors a block has is the
/// architecture's table (`Architecture.blockTensors`); the biases exist only where it lists them.
public struct LayerWeights: Equatable, Sendable {
    public var attentionNorm: Tensor  // [D]
    public var q: Tensor              // [H*hd, D]
    public var k: Tensor              // [KV*hd, D]
    public var v: Tensor              // [KV*hd, D]
    public var qBias: Tensor?         // [H*hd]
    public var kBias: Tensor?         // [KV*hd]
    public var vBias: Tensor?         // [KV*hd]
    public var o: Tensor              // [D, H*hd]
    public var mlpNorm: Tensor        // [D]
    public var gate: Tensor           // [I, D]
    public var up: Tensor             // [I, D]
    public var down: Tensor           // [D, I]

    public init(attentionNorm: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor,
                mlpNorm: Tensor, gate: Tensor, up: Tensor, down: Tensor,
                qBias: Tensor? = nil, kBias: Tensor? = nil, vBias: Tensor? = nil) {
        self.attentionNorm = attentionNorm
        self.q = q
        self.k = k
        self.v = v
        self.qBias = qBias
        self.kBias = kBias
        self.vBias = vBias
        self.o = o
        self.mlpNorm = mlpNorm
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// Builds a block from its tensors by role; `tensor(role)` must give every tensor of `architecture`.
    init(architecture: Architecture, tensor: (BlockTensor.Role) -> Tensor) {
        let has = Set(architecture.blockTensors.map(\.role))
        func optional(_ role: BlockTensor.Role) -> Tensor? { has.contains(role) ? tensor(role) : nil }
        self.init(attentionNorm: tensor(.attentionNorm), q: tensor(.q), k: tensor(.k), v: tensor(.v), o: tensor(.o),
                  mlpNorm: tensor(.mlpNorm), gate: tensor(.gate), up: tensor(.up), down: tensor(.down),
                  qBias: optional(.qBias), kBias: optional(.kBias), vBias: optional(.vBias))
    }

    /// The tensor of a role; nil only for a bias the block does not have.
    public subscript(role: BlockTensor.Role) -> Tensor? {
        get {
            switch role {
            case .attentionNorm: attentionNorm
            case .q: q
            case .qBias: qBias
            case .k: k
            case .kBias: kBias
            case .v: v
            case .vBias: vBias
            case .o: o
            case .mlpNorm: mlpNorm
            case .gate: gate
            case .up: up
            case .down: down
            }
        }
        set {
            switch role {
            case .attentionNorm: attentionNorm = newValue!
            case .q: q = newValue!
            case .qBias: qBias = newValue
            case .k: k = newValue!
            case .kBias: kBias = newValue
            case .v: v = newValue!
            case .vBias: vBias = newValue
            case .o: o = newValue!
            case .mlpNorm: mlpNorm = newValue!
            case .gate: gate = newValue!
            case .up: up = newValue!
            case .down: down = newValue!
            }
        }
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

    /// The expected shape of every tensor, under its Hugging Face name, in file order (the architecture's table).
    public static func expectedShapes(_ config: ModelConfig) -> [(name: String, shape: [Int])] {
        let d = config.hidden, a = Architecture.self
        var shapes: [(String, [Int])] = [(a.embeddingTensor.hf, [config.vocabSize, d])]
        for (i, layer) in config.layers.enumerated() {
            shapes += config.blockTensorShapes(layer).map { (blockPrefix(i) + $0.tensor.hfName, $0.shape) }
        }
        shapes.append((a.finalNormTensor.hf, [d]))
        if !config.tiedEmbeddings { shapes.append((a.outputTensor.hf, [config.vocabSize, d])) }
        return shapes
    }

    /// The start of the Hugging Face names of block `index`'s tensors.
    public static func blockPrefix(_ index: Int) -> String { "model.layers.\(index)." }

    /// Every tensor under its Hugging Face name, in the order of `expectedShapes`.
    public func namedTensors() -> [(name: String, tensor: Tensor)] {
        var tensors = [embedding]
        for layer in layers {
            tensors += config.architecture.blockTensors.map { layer[$0.role]! }
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
            ordered.append(tensor.reshaped(shape))
        }
        var next = ordered.makeIterator()
        embedding = next.next()!
        layers = config.layers.map { _ in
            // The table's order is the iterator's order.
            var byRole: [BlockTensor.Role: Tensor] = [:]
            for tensor in config.architecture.blockTensors { byRole[tensor.role] = next.next()! }
            return LayerWeights(architecture: config.architecture) { byRole[$0]! }
        }
        finalNorm = next.next()!
        output = config.tiedEmbeddings ? nil : next.next()!
        self.config = config
    }

    /// A random model for tests and benchmarks: uniform weights scaled by 1/sqrt(fan-in), norms near one, biases
    /// near zero.
    public static func random(config: ModelConfig, seed: UInt64) -> ModelWeights {
        var rng = SeededRandom(seed: seed)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in expectedShapes(config) {
            let count = shape.reduce(1, *)
            let data: [Float]
            if name.hasSuffix(".bias") {
                data = (0..<count).map { _ in rng.uniform(0.5) }
            } else if shape.count == 1 {
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
