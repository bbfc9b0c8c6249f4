/// Phi-1.5 and Phi-2: one LayerNorm (with bias) feeding attention and the MLP in parallel, biases on q, k, v, dense,
/// fc1, fc2 and the head, partial rotary (NEOX order, the first r of each head's elements), a plain GELU MLP, an
/// untied head. llama.cpp's `phi2` loader takes one shape for every layer with q and dense square (heads x head
/// dimension = hidden), so a model pruned in heads or unevenly goes out as Hugging Face files only.
extension Architecture {
    public static let phi = Architecture(
        name: "phi", ggufNames: ["phi2"],
        ggufWriteName: { $0.isUniform && $0.layers[0].heads * $0.headDim == $0.hidden ? "phi2" : nil },
        ggufHalfRotation: ["phi2"], ggufNormOffset: 0,
        hfModelTypes: ["phi"], hfClassName: "PhiForCausalLM",
        hfExtraKeys: { config in
            ["partial_rotary_factor": Double(config.rotaryDimensions) / Double(config.headDim), "qk_layernorm": false,
             "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attention_dropout": 0.0]
        },
        blockTensors: [
            BlockTensor(.attentionNorm, hf: "input_layernorm.weight", gguf: "attn_norm.weight", .none),
            BlockTensor(.attentionNormBias, hf: "input_layernorm.bias", gguf: "attn_norm.bias", .none),
            BlockTensor(.q, hf: "self_attn.q_proj.weight", gguf: "attn_q.weight", .queryHeadRows),
            BlockTensor(.qBias, hf: "self_attn.q_proj.bias", gguf: "attn_q.bias", .queryHeadRows),
            BlockTensor(.k, hf: "self_attn.k_proj.weight", gguf: "attn_k.weight", .kvHeadRows),
            BlockTensor(.kBias, hf: "self_attn.k_proj.bias", gguf: "attn_k.bias", .kvHeadRows),
            BlockTensor(.v, hf: "self_attn.v_proj.weight", gguf: "attn_v.weight", .kvHeadRows),
            BlockTensor(.vBias, hf: "self_attn.v_proj.bias", gguf: "attn_v.bias", .kvHeadRows),
            BlockTensor(.o, hf: "self_attn.dense.weight", gguf: "attn_output.weight", .queryHeadColumns),
            BlockTensor(.oBias, hf: "self_attn.dense.bias", gguf: "attn_output.bias", .none),
            BlockTensor(.up, hf: "mlp.fc1.weight", gguf: "ffn_up.weight", .neuronRows),
            BlockTensor(.upBias, hf: "mlp.fc1.bias", gguf: "ffn_up.bias", .neuronRows),
            BlockTensor(.down, hf: "mlp.fc2.weight", gguf: "ffn_down.weight", .neuronColumns),
            BlockTensor(.downBias, hf: "mlp.fc2.bias", gguf: "ffn_down.bias", .none),
        ],
        block: PhiBlock.self, norm: .layer, embeddingScale: { _ in nil }, slidingPattern: nil,
        outer: OuterTensors(
            embedding: ("model.embed_tokens.weight", "token_embd.weight"),
            finalNorm: ("model.final_layernorm.weight", "output_norm.weight"),
            finalNormBias: ("model.final_layernorm.bias", "output_norm.bias"),
            output: ("lm_head.weight", "output.weight"), outputBias: ("lm_head.bias", "output.bias")))
}

/// h = LayerNorm(x);  x += o(attention(h)) + fc2(GELU(fc1(h))).
enum PhiBlock: BlockComposition {
    static let activation = Activation.geluTanh

    static func run<Hooks: BlockHooks>(_ block: inout BlockPass<Hooks>) {
        let h = block.norm(block.stream, .attentionNorm)
        let z = block.attention(h)
        let a = block.activation(block.project(h, [.up])[0], activation)
        block.addProjection(z, .o)
        block.addProjection(a, .down)
    }
}
