/// Qwen2 and Qwen2.5: LLaMA's block with biases on q, k and v. llama.cpp's `qwen2` loader assumes square q/o and one
/// feed-forward size, so a model pruned in width is written as `deci`.
extension Architecture {
    public static let qwen2 = Architecture(
        name: "qwen2", ggufNames: ["qwen2", "deci"],
        ggufWriteName: { $0.isUniform && $0.layers[0].heads * $0.headDim == $0.hidden ? "qwen2" : "deci" },
        ggufHalfRotation: ["qwen2"], ggufNormOffset: 0,
        hfModelTypes: ["qwen2"], hfClassName: "Qwen2ForCausalLM",
        hfExtraKeys: { _ in ["use_sliding_window": false, "max_window_layers": 0, "attention_dropout": 0.0] },
        blockTensors: BlockTensor.llamaBlock.flatMap { tensor -> [BlockTensor] in
            let bias: BlockTensor? = switch tensor.role {
            case .q: BlockTensor(.qBias, hf: "self_attn.q_proj.bias", gguf: "attn_q.bias", .queryHeadRows)
            case .k: BlockTensor(.kBias, hf: "self_attn.k_proj.bias", gguf: "attn_k.bias", .kvHeadRows)
            case .v: BlockTensor(.vBias, hf: "self_attn.v_proj.bias", gguf: "attn_v.bias", .kvHeadRows)
            default: nil
            }
            return [tensor] + (bias.map { [$0] } ?? [])
        },
        block: LlamaBlock.self, norm: .rms(weightOffset: 0), embeddingScale: { _ in nil }, slidingPattern: nil, outer: .llama)
}
