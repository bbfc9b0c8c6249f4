/// One tensor of a block: its role in the forward pass, its names, its shape and how pruning cuts it. The roles are
/// the shared vocabulary of every family (llama.cpp's `LLM_TENSOR_*`); a family's table lists the ones its block has.
public struct BlockTensor: Sendable {
    public enum Role: String, CaseIterable, Sendable {
        case attentionNorm, attentionNormBias, q, qBias, k, kBias, v, vBias, qNorm, kNorm, o, oBias, postAttentionNorm
        case mlpNorm, gate, up, upBias, down, downBias, postMLPNorm

        /// True for the weights of a norm (1-D, multiplying).
        var isNorm: Bool {
            switch self {
            case .attentionNorm, .qNorm, .kNorm, .postAttentionNorm, .mlpNorm, .postMLPNorm: true
            default: false
            }
        }

        /// The bias added after this role's projection, if the family has one.
        var bias: Role? {
            switch self {
            case .q: .qBias
            case .k: .kBias
            case .v: .vBias
            case .o: .oBias
            case .up: .upBias
            case .down: .downBias
            default: nil
            }
        }

        /// The bias of this norm, for a family whose norm has one (LayerNorm).
        var normBias: Role? { self == .attentionNorm ? .attentionNormBias : nil }
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

    public init(_ role: Role, hf hfName: String, gguf ggufName: String, _ slicing: Slicing) {
        self.role = role
        self.hfName = hfName
        self.ggufName = ggufName
        self.slicing = slicing
    }

    /// The tensor's shape in a block of shape `layer`: D hidden, hd head dimension, H heads, KV KV heads, I neurons.
    public func shape(_ layer: LayerShape, hidden d: Int, headDim hd: Int) -> [Int] {
        shapeFactors(layer, hidden: d, headDim: hd).map { $0.reduce(1, *) }
    }

    /// Each dimension as its factors, so a count from an unchecked header can be multiplied with overflow checks.
    func shapeFactors(_ layer: LayerShape, hidden d: Int, headDim hd: Int) -> [[Int]] {
        switch role {
        case .attentionNorm, .attentionNormBias, .mlpNorm, .postAttentionNorm, .postMLPNorm, .oBias, .downBias: [[d]]
        case .upBias: [[layer.intermediate]]
        case .qNorm, .kNorm: [[hd]]
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

    /// The tensors of a LLaMA block, which most families start from.
    static let llamaBlock: [BlockTensor] = [
        BlockTensor(.attentionNorm, hf: "input_layernorm.weight", gguf: "attn_norm.weight", .none),
        BlockTensor(.q, hf: "self_attn.q_proj.weight", gguf: "attn_q.weight", .queryHeadRows),
        BlockTensor(.k, hf: "self_attn.k_proj.weight", gguf: "attn_k.weight", .kvHeadRows),
        BlockTensor(.v, hf: "self_attn.v_proj.weight", gguf: "attn_v.weight", .kvHeadRows),
        BlockTensor(.o, hf: "self_attn.o_proj.weight", gguf: "attn_output.weight", .queryHeadColumns),
        BlockTensor(.mlpNorm, hf: "post_attention_layernorm.weight", gguf: "ffn_norm.weight", .none),
        BlockTensor(.gate, hf: "mlp.gate_proj.weight", gguf: "ffn_gate.weight", .neuronRows),
        BlockTensor(.up, hf: "mlp.up_proj.weight", gguf: "ffn_up.weight", .neuronRows),
        BlockTensor(.down, hf: "mlp.down_proj.weight", gguf: "ffn_down.weight", .neuronColumns),
    ]

    /// The per-head RMSNorm weights of q and k [hd], shared by every head so never cut.
    static let headNorms: [BlockTensor] = [
        BlockTensor(.qNorm, hf: "self_attn.q_norm.weight", gguf: "attn_q_norm.weight", .none),
        BlockTensor(.kNorm, hf: "self_attn.k_norm.weight", gguf: "attn_k_norm.weight", .none),
    ]
}
