/// Weights of one block by role, Hugging Face layout (Q/K rows in `rotate_half` order). Which roles a block has
/// is its family's table (`Architecture.blockTensors`). Shapes: `BlockTensor.shape`.
public struct LayerWeights: Equatable, Sendable {
    private var tensors: [BlockTensor.Role: Tensor]

    public init(_ tensors: [BlockTensor.Role: Tensor]) {
        self.tensors = tensors
    }

    /// Builds a block from its tensors by role; `tensor(role)` must give every tensor of `architecture`.
    init(architecture: Architecture, tensor: (BlockTensor.Role) -> Tensor) {
        tensors = Dictionary(uniqueKeysWithValues: architecture.blockTensors.map { ($0.role, tensor($0.role)) })
    }

    /// The tensor of a role; nil for a role the family's block does not have.
    public subscript(role: BlockTensor.Role) -> Tensor? {
        get { tensors[role] }
        set { tensors[role] = newValue }
    }
}

/// A whole model in fp32.
public struct ModelWeights: Equatable, Sendable {
    public var config: ModelConfig
    public var embedding: Tensor      // [V, D]
    public var layers: [LayerWeights]
    public var finalNorm: Tensor      // [D]
    public var output: Tensor?        // [V, D]; nil when tied to the embedding
    public var finalNormBias: Tensor? // [D], in a family whose final norm has one
    public var outputBias: Tensor?    // [V], in a family whose head has one

    public init(config: ModelConfig, embedding: Tensor, layers: [LayerWeights], finalNorm: Tensor, output: Tensor?,
                finalNormBias: Tensor? = nil, outputBias: Tensor? = nil) {
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.output = output
        self.finalNormBias = finalNormBias
        self.outputBias = outputBias
    }

    /// The matrix the final hidden state is multiplied by: [V, D].
    public var outputMatrix: Tensor { output ?? embedding }

    /// The head: the output matrix and its bias.
    public var head: OutputHead { OutputHead(matrix: outputMatrix, bias: outputBias, softCap: config.finalLogitSoftCap) }

    /// The expected shape of every tensor, under its Hugging Face name, in file order (the architecture's table).
    public static func expectedShapes(_ config: ModelConfig) -> [(name: String, shape: [Int])] {
        let d = config.hidden, a = config.architecture.outer
        var shapes: [(String, [Int])] = [(a.embedding.hf, [config.vocabSize, d])]
        for (i, layer) in config.layers.enumerated() {
            shapes += config.blockTensorShapes(layer).map { (blockPrefix(i) + $0.tensor.hfName, $0.shape) }
        }
        shapes.append((a.finalNorm.hf, [d]))
        if let bias = a.finalNormBias { shapes.append((bias.hf, [d])) }
        if !config.tiedEmbeddings { shapes.append((a.output.hf, [config.vocabSize, d])) }
        if let bias = a.outputBias { shapes.append((bias.hf, [config.vocabSize])) }
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
        if let finalNormBias { tensors.append(finalNormBias) }
        if let output { tensors.append(output) }
        if let outputBias { tensors.append(outputBias) }
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
        finalNormBias = config.architecture.outer.finalNormBias == nil ? nil : next.next()!
        output = config.tiedEmbeddings ? nil : next.next()!
        outputBias = config.architecture.outer.outputBias == nil ? nil : next.next()!
        self.config = config
    }

    /// A random model for tests and benchmarks: uniform weights scaled by 1/sqrt(fan-in), norms multiplying by
    /// about one (whatever the family's norm variant), biases near zero.
    public static func random(config: ModelConfig, seed: UInt64) -> ModelWeights {
        var rng = SeededRandom(seed: seed)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in expectedShapes(config) {
            let count = shape.reduce(1, *)
            let data: [Float]
            if name.hasSuffix(".bias") {
                data = (0..<count).map { _ in rng.uniform(0.5) }
            } else if shape.count == 1 {
                let one = 1 - config.architecture.normWeightOffset
                data = (0..<count).map { _ in one + rng.uniform(0.2) }
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

/// The head of a model: logits [N, V] = hidden [N, D] . matrix^T + bias, soft-capped where the family caps them.
public struct OutputHead: Sendable {
    public let matrix: Tensor
    public let bias: Tensor?
    /// The final logit soft-cap (`SoftCap`); nil: none.
    public let softCap: Float?

    public init(matrix: Tensor, bias: Tensor? = nil, softCap: Float? = nil) {
        self.matrix = matrix
        self.bias = bias
        self.softCap = softCap
    }

    /// The vocabulary size.
    public var rows: Int { matrix.rows }

    /// Logits [rows, V] of hidden states [rows, D].
    public func logits(_ hidden: [Float], rows: Int) -> [Float] {
        var logits = BLAS.linear(hidden, rows: rows, matrix)
        if let bias { Linear.addBias(bias, to: &logits, rows: rows) }
        if let softCap { logits.withUnsafeMutableBufferPointer { SoftCap.forward($0.baseAddress!, count: $0.count, cap: softCap) } }
        return logits
    }

    /// The gradient of the product's output from the gradient of `logits`' output, in place on dLogits [rows, V]
    /// (the soft-cap's backward; nothing to do without one). `logits` is what `logits(_:rows:)` returned.
    public func backward(logits: [Float], dLogits: inout [Float]) {
        guard let softCap else { return }
        logits.withUnsafeBufferPointer { y in
            dLogits.withUnsafeMutableBufferPointer { SoftCap.backward(output: y.baseAddress!, dy: $0.baseAddress!, count: $0.count, cap: softCap) }
        }
    }
}
