import Foundation

/// Gemma-3 (text): sandwich RMSNorms (before and after attention and MLP) multiplying by (1 + w), per-head q/k
/// RMSNorm, embeddings scaled by sqrt(hidden), GeGLU with GELU-tanh, tied head, and layers that alternate: every
/// 6th attends globally at RoPE base 1e6, the others within a sliding window at base 10k. llama.cpp's `gemma3`
/// loader takes one shape for every layer and derives the global layers from the period, so a model pruned in width
/// or depth (which moves the global layers) goes out as Hugging Face files only; so does one whose config.json set
/// `final_logit_softcapping` (transformers' class applies it, llama.cpp's gemma3 graph does not).
extension Architecture {
    public static let gemma3 = Architecture(
        name: "gemma3", ggufNames: ["gemma3"],
        ggufWriteName: { $0.isUniform && Gemma3Block.isPeriodic($0) && $0.finalLogitSoftCap == nil ? "gemma3" : nil },
        ggufHalfRotation: ["gemma3"], ggufNormOffset: 1,
        hfModelTypes: ["gemma3_text"], hfClassName: "Gemma3ForCausalLM",
        hfExtraKeys: { config in
            let types = config.layers.indices.map { config.attention(layer: $0).window == nil ? "full_attention" : "sliding_attention" }
            let local = config.layers.indices.first { config.attention(layer: $0).window != nil }.map { config.attention(layer: $0) }
            let scale = config.attentionScale ?? 1 / Float(config.headDim).squareRoot()
            return [
                "layer_types": types,
                "sliding_window": local?.window ?? config.maxPositions,
                "rope_parameters": [
                    "full_attention": ["rope_type": "default", "rope_theta": Double(config.ropeTheta)],
                    "sliding_attention": ["rope_type": "default", "rope_theta": Double(local?.ropeTheta ?? config.ropeTheta)],
                ],
                "query_pre_attn_scalar": Double(1 / (scale * scale)).rounded(),
                "final_logit_softcapping": config.finalLogitSoftCap.map { Double($0) as Any } ?? NSNull(),
                "attn_logit_softcapping": NSNull(),
                "attention_bias": false, "attention_dropout": 0.0, "hidden_activation": Gemma3Block.activation.hfNames[0],
            ]
        },
        blockTensors: [
            BlockTensor(.attentionNorm, hf: "input_layernorm.weight", gguf: "attn_norm.weight", .none),
            BlockTensor(.q, hf: "self_attn.q_proj.weight", gguf: "attn_q.weight", .queryHeadRows),
            BlockTensor(.k, hf: "self_attn.k_proj.weight", gguf: "attn_k.weight", .kvHeadRows),
            BlockTensor(.v, hf: "self_attn.v_proj.weight", gguf: "attn_v.weight", .kvHeadRows),
        ] + BlockTensor.headNorms + [
            BlockTensor(.o, hf: "self_attn.o_proj.weight", gguf: "attn_output.weight", .queryHeadColumns),
            BlockTensor(.postAttentionNorm, hf: "post_attention_layernorm.weight", gguf: "post_attention_norm.weight", .none),
            BlockTensor(.mlpNorm, hf: "pre_feedforward_layernorm.weight", gguf: "ffn_norm.weight", .none),
            BlockTensor(.gate, hf: "mlp.gate_proj.weight", gguf: "ffn_gate.weight", .neuronRows),
            BlockTensor(.up, hf: "mlp.up_proj.weight", gguf: "ffn_up.weight", .neuronRows),
            BlockTensor(.down, hf: "mlp.down_proj.weight", gguf: "ffn_down.weight", .neuronColumns),
            BlockTensor(.postMLPNorm, hf: "post_feedforward_layernorm.weight", gguf: "post_ffw_norm.weight", .none),
        ],
        block: Gemma3Block.self, norm: .rms(weightOffset: 1),
        embeddingScale: { Float(Double($0.hidden).squareRoot()) }, slidingPattern: (period: 6, ropeTheta: 10000), outer: .llama,
        hfFinalLogitSoftCap: true)
}

/// x += RMSNorm(o(attention(RMSNorm(x))));  x += RMSNorm(down(GELU(gate(h)) * up(h))), h = RMSNorm(x).
enum Gemma3Block: BlockComposition {
    static let activation = Activation.geluTanh

    static func run<Hooks: BlockHooks>(_ block: inout BlockPass<Hooks>) {
        let z = block.attention(block.norm(block.stream, .attentionNorm))
        block.addToStream(block.norm(block.project(z, [.o])[0], .postAttentionNorm))
        let a = block.gatedActivation(block.norm(block.stream, .mlpNorm), activation)
        block.addToStream(block.norm(block.project(a, [.down])[0], .postMLPNorm))
    }

    /// True when the layers follow the period a GGUF file implies: global exactly at every 6th layer, one window
    /// and one local base.
    static func isPeriodic(_ config: ModelConfig) -> Bool {
        let entries = config.layers.indices.map { config.attention(layer: $0) }
        let local = entries.filter { $0.window != nil }
        return entries.indices.allSatisfy { ($0 + 1) % 6 == 0 ? entries[$0] == LayerAttention(ropeTheta: config.ropeTheta) : entries[$0].window != nil }
            && Set(local).count <= 1
    }
}
