/// Everything mop knows about one model family (llama.cpp's `llama-arch` pattern). Each family is one file in
/// `Families/`: its tensor table (names in both formats, shapes, how pruning cuts each tensor, which makes its AMP
/// units and LoRA targets), its block as a composition of the operations (`BlockComposition`), and the keys and
/// conventions of its files. Readers, writers, shapes, parameter counts, surgery, LoRA and every forward pass
/// derive from it; nothing else names a family. Adding one is adding a file and listing it in `all`.
public struct Architecture: Sendable, CustomStringConvertible {
    /// The name inside mop (structure and report files, `mop inspect`).
    public let name: String
    /// `general.architecture` values read as this family. `deci` (llama.cpp's LLaMA with per-layer shapes) is
    /// shared: a `deci` file with q/k/v biases is a pruned Qwen2.
    public let ggufNames: [String]
    /// The `general.architecture` written for a model of this family: the family's own name where llama.cpp's loader
    /// for it takes the shapes, `deci` where only that loader does (any per-layer head and feed-forward counts,
    /// optional q/k/v biases), nil where no llama.cpp loader takes the model (then only Hugging Face files).
    public let ggufWriteName: @Sendable (ModelConfig) -> String?
    /// The GGUF names whose RoPE rotates halves (NEOX order), so their Q/K rows stay in Hugging Face order; the
    /// others rotate adjacent pairs and their converter permutes the rows (`GGUFRopeOrder`).
    let ggufHalfRotation: Set<String>
    /// What a GGUF file adds to every RMSNorm weight (Gemma's converter stores 1 + w, Hugging Face stores w).
    let ggufNormOffset: Float
    /// config.json `model_type` values read as this family; the first is written.
    public let hfModelTypes: [String]
    /// config.json `architectures[0]` as written.
    public let hfClassName: String
    /// Keys config.json gets for this family beyond the shared ones (transformers' defaults made explicit, and the
    /// family's own hyperparameters).
    public let hfExtraKeys: @Sendable (ModelConfig) -> [String: Any]
    /// The tensors of one block, in file order.
    public let blockTensors: [BlockTensor]
    /// How the block's operations compose (norms, attention, MLP, residual wiring).
    let block: any BlockComposition.Type
    /// The norm of every block and of the final norm: RMSNorm multiplying by w or by (1 + w), or LayerNorm.
    let norm: NormKind
    /// The factor of the input embeddings (Gemma: sqrt(hidden)); nil for none.
    let embeddingScale: @Sendable (ModelConfig) -> Float?
    /// Sliding-window attention as a GGUF file states it: every `period`-th layer attends globally, the others
    /// within the file's window, at `ropeTheta` unless the file gives `rope.freq_base_swa`. nil: every layer global.
    let slidingPattern: (period: Int, ropeTheta: Float)?
    /// The names of the tensors outside the blocks.
    let outer: OuterTensors
    /// Whether the family's Hugging Face class caps its logits by config.json's `final_logit_softcapping` (Gemma's
    /// do); elsewhere transformers ignores the key, so a value there is refused rather than computed unlike it.
    var hfFinalLogitSoftCap = false

    public var description: String { name }

    /// What an RMSNorm adds to its stored weights (0, or 1 for Gemma's 1 + w); 0 for LayerNorm.
    var normWeightOffset: Float {
        if case .rms(let offset) = norm { return offset }
        return 0
    }

    /// The MLP activation, under config.json's `hidden_act`.
    public var activation: Activation { block.activation }

    /// The LoRA targets whose projections the block has (Phi has no gate).
    public var loraTargets: [LoRATarget] { LoRATarget.allCases.filter { has($0.role) } }

    /// True when q, k and v carry biases (added in the forward, cut by surgery, frozen in training).
    public var hasAttentionBias: Bool { blockTensors.contains { $0.role == .qBias } }

    /// True when the block has a tensor of `role`.
    func has(_ role: BlockTensor.Role) -> Bool { blockTensors.contains { $0.role == role } }

    public static let all: [Architecture] = [.llama, .qwen2, .qwen3, .gemma3, .phi]

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

    /// The tensors outside the blocks, as (HF name, GGUF name). The output head is present only when untied; the
    /// biases only in a family that has them.
    public struct OuterTensors: Sendable {
        let embedding: (hf: String, gguf: String)
        let finalNorm: (hf: String, gguf: String)
        let finalNormBias: (hf: String, gguf: String)?
        let output: (hf: String, gguf: String)
        let outputBias: (hf: String, gguf: String)?

        /// LLaMA's names, which most families keep.
        static let llama = OuterTensors(
            embedding: ("model.embed_tokens.weight", "token_embd.weight"), finalNorm: ("model.norm.weight", "output_norm.weight"),
            finalNormBias: nil, output: ("lm_head.weight", "output.weight"), outputBias: nil)
    }

    var embeddingTensor: (hf: String, gguf: String) { outer.embedding }
    var finalNormTensor: (hf: String, gguf: String) { outer.finalNorm }
    var outputTensor: (hf: String, gguf: String) { outer.output }
}

extension Architecture: Equatable, Hashable {
    public static func == (a: Architecture, b: Architecture) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}
