/// The linear layers of a block that LoRA can adapt, under mop's names (LLaMA's PEFT module names); the adapter
/// attaches to the block's projection of that role, and PEFT's names come from the family's table.
public enum LoRATarget: String, CaseIterable, Codable, Sendable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj", gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// The module's path inside a decoder layer of `architecture`, as in `model.layers.{i}.self_attn.q_proj`: its
    /// weight's Hugging Face name without `.weight`.
    public func modulePath(in architecture: Architecture) -> String {
        String(architecture.blockTensors.first { $0.role == role }!.hfName.dropLast(".weight".count))
    }

    /// PEFT's `target_modules` name in `architecture`: the module path's last component.
    public func peftName(in architecture: Architecture) -> String {
        String(modulePath(in: architecture).split(separator: ".").last!)
    }

    /// The block tensor (the frozen weight [out, in]) this target adapts.
    public var role: BlockTensor.Role {
        switch self {
        case .q: .q
        case .k: .k
        case .v: .v
        case .o: .o
        case .gate: .gate
        case .up: .up
        case .down: .down
        }
    }

    /// The target adapting a block tensor, nil for norms and biases.
    public init?(role: BlockTensor.Role) {
        guard let target = Self.allCases.first(where: { $0.role == role }) else { return nil }
        self = target
    }
}

/// LoRA hyper-parameters (docs/design.md#lora: AMP uses r=8, alpha=16, dropout 0.05; MoP r=32, alpha=10).
public struct LoRAConfig: Equatable, Sendable {
    public var rank: Int
    public var alpha: Float
    /// Dropout probability on the LoRA branch input (PEFT's `lora_dropout`), applied in training only.
    public var dropout: Float
    /// Adapted layers, in `LoRATarget.allCases` order.
    public var targets: [LoRATarget]

    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0.05, targets: [LoRATarget] = LoRATarget.allCases) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = LoRATarget.allCases.filter(targets.contains)
    }

    /// The factor of the LoRA branch, alpha / r.
    public var scale: Float { alpha / Float(rank) }

    /// Rejects a rank below 1, a non-finite alpha, dropout outside [0, 1) and an empty target list.
    public func validate(file: String?) throws {
        guard rank >= 1 else { throw MopError(file: file, "LoRA rank \(rank) must be at least 1") }
        guard alpha.isFinite else { throw MopError(file: file, "LoRA alpha \(alpha) is not a finite number") }
        guard dropout >= 0, dropout < 1 else { throw MopError(file: file, "LoRA dropout \(dropout) is outside [0, 1)") }
        guard !targets.isEmpty else { throw MopError(file: file, "LoRA has no target modules") }
    }

    /// `validate(file:)`, and a rank no larger than the smaller side of every adapted matrix of `model`: a larger one
    /// adds no capacity, and a huge one would allocate adapters far larger than the model.
    public func validate(for model: ModelConfig, file: String?) throws {
        try validate(file: file)
        let smallest = LoRALayout.features(of: model, targets: targets).map { min($0.in, $0.out) }.min() ?? 0
        guard rank <= smallest else {
            throw MopError(file: file, "LoRA rank \(rank) exceeds \(smallest), the smaller dimension of the smallest adapted matrix")
        }
    }
}

/// Where every adapter's A [r, in] and B [out, r] sit in one flat buffer (layer by layer, targets in config order),
/// so parameters, gradients and optimizer moments are single arrays that one allreduce can sum.
public struct LoRALayout: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public let layer: Int
        public let target: LoRATarget
        public let inFeatures: Int
        public let outFeatures: Int
        public let a: Range<Int>
        public let b: Range<Int>
    }

    public let rank: Int
    public let entries: [Entry]
    /// The family whose projections the adapters attach to (PEFT's module names).
    public let architecture: Architecture
    /// Floats in the whole buffer.
    public let count: Int

    /// The (in, out) features of every adapted matrix, layer by layer, targets in order.
    static func features(of model: ModelConfig, targets: [LoRATarget]) -> [(layer: Int, target: LoRATarget, in: Int, out: Int)] {
        model.layers.enumerated().flatMap { index, shape in
            targets.filter { model.architecture.has($0.role) }.map { target in
                let weight = model.architecture.blockTensors.first { $0.role == target.role }!
                let outAndIn = weight.shape(shape, hidden: model.hidden, headDim: model.headDim)
                return (index, target, outAndIn[1], outAndIn[0])
            }
        }
    }

    public init(config: LoRAConfig, model: ModelConfig) {
        var entries: [Entry] = []
        var offset = 0
        for matrix in Self.features(of: model, targets: config.targets) {
            let a = offset..<(offset + config.rank * matrix.in)
            let b = a.upperBound..<(a.upperBound + matrix.out * config.rank)
            entries.append(Entry(layer: matrix.layer, target: matrix.target, inFeatures: matrix.in, outFeatures: matrix.out, a: a, b: b))
            offset = b.upperBound
        }
        rank = config.rank
        self.entries = entries
        architecture = model.architecture
        count = offset
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { (Key(layer: $1.layer, target: $1.target), $0) })
    }

    private struct Key: Hashable, Sendable {
        let layer: Int
        let target: LoRATarget
    }

    private let index: [Key: Int]

    /// The adapter of `target` in `layer`, or nil when that layer is not adapted.
    public func entry(layer: Int, target: LoRATarget) -> Entry? {
        index[Key(layer: layer, target: target)].map { entries[$0] }
    }

    public static func == (lhs: LoRALayout, rhs: LoRALayout) -> Bool {
        lhs.rank == rhs.rank && lhs.entries == rhs.entries && lhs.architecture == rhs.architecture
    }
}

/// The trainable LoRA parameters of a whole model in one flat fp32 buffer laid out by `layout`.
public struct LoRAAdapters: Equatable, Sendable {
    public let config: LoRAConfig
    public let layout: LoRALayout
    public var parameters: [Float]

    /// Fresh adapters as PEFT initialises them: A uniform in +-1/sqrt(in) (kaiming-uniform with a = sqrt(5)),
    /// B zero, so the adapted model starts equal to the base model.
    public init(config: LoRAConfig, model: ModelConfig, seed: UInt64) {
        let layout = LoRALayout(config: config, model: model)
        var rng = SeededRandom(seed: seed)
        var parameters = [Float](repeating: 0, count: layout.count)
        for entry in layout.entries {
            let bound = 1 / Float(entry.inFeatures).squareRoot()
            for i in entry.a { parameters[i] = rng.uniform(bound) }
        }
        self.init(config: config, layout: layout, parameters: parameters)
    }

    /// Adapters from existing parameters; `parameters` must hold `layout.count` floats.
    public init(config: LoRAConfig, layout: LoRALayout, parameters: [Float]) {
        precondition(parameters.count == layout.count, "LoRA parameters: \(parameters.count) floats, the layout holds \(layout.count)")
        self.config = config
        self.layout = layout
        self.parameters = parameters
    }

    /// A of one adapter: [r, in].
    public func a(_ entry: LoRALayout.Entry) -> Tensor {
        Tensor(shape: [layout.rank, entry.inFeatures], data: Array(parameters[entry.a]))
    }

    /// B of one adapter: [out, r].
    public func b(_ entry: LoRALayout.Entry) -> Tensor {
        Tensor(shape: [entry.outFeatures, layout.rank], data: Array(parameters[entry.b]))
    }

    /// Every adapter as the update it adds to its weight, (alpha / r) B A, by the weight's Hugging Face tensor name:
    /// what an export adds to each weight's rows as it writes them, so the merged model never exists whole.
    public func updates() -> [String: LowRankUpdate] {
        Dictionary(uniqueKeysWithValues: layout.entries.map { entry in
            (weightName(entry), LowRankUpdate(scale: config.scale, rank: layout.rank, b: Array(parameters[entry.b]), a: Array(parameters[entry.a])))
        })
    }

    /// The Hugging Face name of the weight `entry` adapts.
    private func weightName(_ entry: LoRALayout.Entry) -> String {
        ModelWeights.blockPrefix(entry.layer) + entry.target.modulePath(in: layout.architecture) + ".weight"
    }

    /// The base weights with every adapter folded in: W += (alpha / r) B A, each adapted weight held in fp32. Its
    /// logits equal the adapted model's (without dropout) up to rounding.
    public func merged(into weights: ModelWeights) -> ModelWeights {
        precondition(layout == LoRALayout(config: config, model: weights.config), "LoRA adapters do not fit this model")
        var merged = weights
        let updates = updates()
        for entry in layout.entries {
            let rows = TensorRows(weights.layers[entry.layer][entry.target.role]!).adding(updates[weightName(entry)]!)
            merged.layers[entry.layer][entry.target.role] = Tensor(shape: rows.shape, data: rows.values)
        }
        return merged
    }
}

/// Gradients of a loss with respect to LoRA parameters, in the adapters' flat layout (one buffer, one allreduce).
public struct LoRAGradients: Equatable, Sendable {
    public let layout: LoRALayout
    public var values: [Float]

    public init(layout: LoRALayout, values: [Float]? = nil) {
        self.layout = layout
        self.values = values ?? [Float](repeating: 0, count: layout.count)
        precondition(self.values.count == layout.count, "LoRA gradients: \(self.values.count) floats, the layout holds \(layout.count)")
    }
}
