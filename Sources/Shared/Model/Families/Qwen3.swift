/// Qwen3: LLaMA's block with a per-head RMSNorm on q and k before RoPE, no biases. llama.cpp's `qwen3` loader takes
/// one head count and feed-forward size for every layer, and `deci` has no q/k norms, so a model pruned unevenly
/// is written as Hugging Face files only.
extension Architecture {
    public static let qwen3 = Architecture(
        name: "qwen3", ggufNames: ["qwen3"], ggufWriteName: { $0.isUniform ? "qwen3" : nil },
        ggufHalfRotation: ["qwen3"], ggufNormOffset: 0,
        hfModelTypes: ["qwen3"], hfClassName: "Qwen3ForCausalLM",
        hfExtraKeys: { _ in
            ["attention_bias": false, "use_sliding_window": false, "max_window_layers": 0, "attention_dropout": 0.0]
        },
        blockTensors: BlockTensor.llamaBlock.flatMap { tensor in
            tensor.role == .k ? [tensor] + BlockTensor.headNorms : [tensor]
        },
        block: LlamaBlock.self, norm: .rms(weightOffset: 0), embeddingScale: { _ in nil }, slidingPattern: nil, outer: .llama)
}
