/// Everything mop knows about one model family, in one table (llama.cpp's `llama-arch` pattern): the tensors of a
/// block with their names in both formats, their shapes, how pruning cuts them, and the keys and conventions of the
/// file formats. Readers, writers, shapes, parameter counts, surgery and LoRA derive from it; the forward pass
/// reads `hasAttentionBias`. Adding a family is adding one `Architecture` value here and listing it in `all`.
public struct Architecture: Sendable, CustomStringConvertible {
    /// The name inside mop (structure and report files, `mop inspect`).
    public let name: String
    /// `general.architecture` values read as this family. `deci` (llama.cpp's LLaMA with per-layer shapes) is
    /// shared: a `deci` file with q/k/v biases is a pruned Qwen2.
    public let ggufNames: [String]
    /// The `general.architecture` written for a model of this family: the family's own name where llama.cpp's loader
    /// for it takes the shapes, else `deci`, whose loader takes any per-layer head and feed-forward counts (and
    /// optional q/k/v biases). The Q/K row order follows the name written (`GGUFRopeOrder`).
    public let ggufWriteName: @Sendable (ModelConfig) -> String
    /// config.json `model_type` values read as this family; the first is written.
    public let hfModelTypes: [String]
    /// config.json `architectures[0]` as written.
    public let hfClassName: String
    /// Keys config.json gets for this family beyond the shared LLaMA ones (transformers' defaults made explicit).
    public let hfExtraKeys: @Sendable () -> [String: Any]
    /// The tensors of one block, in file order.
    public let blockTensors: [BlockTensor]

    public var description: String { name }

    /// True when q, k and v carry biases (added in the forward, cut by surgery, frozen in training).
    public var hasAttentionBias: Bool { blockTensors.contains { $0.role == .qBias } }

    public static let llama = Architecture(
        name: "llama", ggufNames: ["llama", "deci"], ggufWriteName: { $0.isUniform ? "llama" : "deci" },
        hfModelTypes: ["llama", "mistral"], hfClassName: "LlamaForCausalLM",
        hfExtraKeys: { ["attention_bias": false, "mlp_bias": false] },
        blockTensors: BlockTensor.llamaBlock)

    /// Qwen2 and Qwen2.5: LLaMA's block with biases on q, k and v. llama.cpp's `qwen2` loader assumes square q/o
    /// and one feed-forward size, so a model pruned in width is written as `deci`.
    public static let qwen2 = Architecture(
        name: "qwen2", ggufNames: ["qwen2", "deci"],
        ggufWriteName: { $0.isUniform && $0.layers[0].heads * $0.headDim == $0.hidden ? "qwen2" : "deci" },
        hfModelTypes: ["qwen2"], hfClassName: "Qwen2ForCausalLM",
        hfExtraKeys: { ["use_sliding_window": false, "max_window_layers": 0, "attention_dropout": 0.0] },
        blockTensors: BlockTensor.qwen2Block)

    public static let all: [Architecture] = [.llama, .qwen2]

    public static func named(_ name: String) -> Architecture? { all.first { $0.name == name } }
    /// The family of a GGUF file's `general.architecture`; where several read that name (`deci`), the one whose
    /// table has q/k/v biases exactly when the file does.
    public static func forGGUF(_ name: String, hasAttentionBias: Bool) -> Architecture? {
        let candidates = all.filter { $0.ggufNames.contains(name) }
        return candidates.count > 1 ? candidates.first { $0.hasAttentionBias == hasAttentionBias } : candidates.first
    }

    public static func forHFModelType(_ type: String) -> Architecture? { all.first { $0.hfModelTypes.contains(type) } }

    /// Whether GGUF tensor names include a block's q bias, named as the tables name it (what tells a pruned Qwen2
    /// `deci` file from a LLaMA one).
    static func ggufHasAttentionBias(_ tensorNames: some Sequence<String>) -> Bool {
        let suffixes = Set(all.flatMap(\.blockTensors).filter { $0.role == .qBias }.map { "." + $0.ggufName })
        return tensorNames.contains { name in name.hasPrefix("blk.") && suffixes.contains { name.hasSuffix($0) } }
    }

    public static var ggufNamesSupported: [String] {
        all.flatMap(\.ggufNames).reduce(into: []) { names, name in if !names.contains(name) { names.append(name) } }
    }
    public static var hfModelTypesSupported: [String] { all.flatMap(\.hfModelTypes) }

    /// The tensors outside the blocks: (HF name, GGUF name). The output head is present only when untied.
    static let embeddingTensor = (hf: "model.embed_tokens.weight", gguf: "token_embd.weight")
    static let finalNormTensor = (hf: "model.norm.weight", gguf: "output_norm.weight")
    static let outputTensor = (hf: "lm_head.weight", gguf: "output.weight")
}

extension Architecture: Equatable, Hashable {
    public static func == (a: Architecture, b: Architecture) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// One tensor of a block: its role in the forward pass, its names, its shape and how pruning cuts it.
public struct BlockTensor: Sendable {
    public enum Role: String, CaseIterable, Sendable {
        case attentionNorm, q, qBias, k, kBias, v, vBias, o, mlpNorm, gate, up, down
    }

    /// What a pruned head or neuron removes from this tensor (`none`: kept whole). Rows of 1-D tensors are elements.
    public enum Slicing: Sendable {
        case none, queryHeadRows, kvHeadRows, queryHeadColumns, neuronRows, neuronColumns
    }

    public let role: Role
    /// The name after `model.layers.N.` (Hugging Face) and after `blk.N.` (GGUF).
    public let hfName: String
    public let ggufName: String
    public let slicing: Slicing

    /// The tensor's shape in a block of shape `layer`: D hidden, hd head dimension, H heads, KV KV heads, I neurons.
    public func shape(_ layer: LayerShape, hidden d: Int, headDim hd: Int) -> [Int] {
        shapeFactors(layer, hidden: d, headDim: hd).map { $0.reduce(1, *) }
    }

    /// Each dimension as its factors, so a count from an unchecked header can be multiplied with overflow checks.
    func shapeFactors(_ layer: LayerShape, hidden d: Int, headDim hd: Int) -> [[Int]] {
        switch role {
        case .attentionNorm, .mlpNorm: [[d]]
        case .q: [[layer.heads, hd], [d]]
        case .k, .v: [[layer.kvHeads, hd], [d]]
        case .qBias: [[layer.heads, hd]]
        case .kBias, .vBias: [[layer.kvHeads, hd]]
        case .o: [[d], [layer.heads, hd]]
        case .gate, .up: [[layer.intermediate], [d]]
        case .down: [[d], [layer.intermediate]]
        }
    }

    /// The heads whose rows a GGUF converter may permute into adjacent-pair RoPE order (`GGUFRopeOrder`); nil for
    /// tensors that are never permuted.
    func ropeHeads(_ layer: LayerShape) -> Int? {
        switch role {
        case .q, .qBias: layer.heads
        case .k, .kBias: layer.kvHeads
        default: nil
        }
    }

    static let llamaBlock: [BlockTensor] = [
        BlockTensor(role: .attentionNorm, hfName: "input_layernorm.weight", ggufName: "attn_norm.weight", slicing: .none),
        BlockTensor(role: .q, hfName: "self_attn.q_proj.weight", ggufName: "attn_q.weight", slicing: .queryHeadRows),
        BlockTensor(role: .k, hfName: "self_attn.k_proj.weight", ggufName: "attn_k.weight", slicing: .kvHeadRows),
        BlockTensor(role: .v, hfName: "self_attn.v_proj.weight", ggufName: "attn_v.weight", slicing: .kvHeadRows),
        BlockTensor(role: .o, hfName: "self_attn.o_proj.weight", ggufName: "attn_output.weight", slicing: .queryHeadColumns),
        BlockTensor(role: .mlpNorm, hfName: "post_attention_layernorm.weight", ggufName: "ffn_norm.weight", slicing: .none),
        BlockTensor(role: .gate, hfName: "mlp.gate_proj.weight", ggufName: "ffn_gate.weight", slicing: .neuronRows),
        BlockTensor(role: .up, hfName: "mlp.up_proj.weight", ggufName: "ffn_up.weight", slicing: .neuronRows),
        BlockTensor(role: .down, hfName: "mlp.down_proj.weight", ggufName: "ffn_down.weight", slicing: .neuronColumns),
    ]

    static let qwen2Block: [BlockTensor] = llamaBlock.flatMap { tensor -> [BlockTensor] in
        let bias: BlockTensor? = switch tensor.role {
        case .q: BlockTensor(role: .qBias, hfName: "self_attn.q_proj.bias", ggufName: "attn_q.bias", slicing: .queryHeadRows)
        case .k: BlockTensor(role: .kBias, hfName: "self_attn.k_proj.bias", ggufName: "attn_k.bias", slicing: .kvHeadRows)
        case .v: BlockTensor(role: .vBias, hfName: "self_attn.v_proj.bias", ggufName: "attn_v.bias", slicing: .kvHeadRows)
        default: nil
        }
        return [tensor] + (bias.map { [$0] } ?? [])
    }
}
