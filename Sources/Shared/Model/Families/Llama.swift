/// LLaMA (and Mistral, SmolLM2): RMSNorm, GQA attention with RoPE, SwiGLU, sequential residuals.
extension Architecture {
    public static let llama = Architecture(
        name: "llama", ggufNames: ["llama", "deci"], ggufWriteName: { $0.isUniform ? "llama" : "deci" },
        ggufHalfRotation: [], ggufNormOffset: 0,
        hfModelTypes: ["llama", "mistral"], hfClassName: "LlamaForCausalLM",
        hfExtraKeys: { _ in ["attention_bias": false, "mlp_bias": false] },
        blockTensors: BlockTensor.llamaBlock, block: LlamaBlock.self, norm: .rms(weightOffset: 0),
        embeddingScale: { _ in nil }, slidingPattern: nil, outer: .llama)
}

/// x += o(attention(RMSNorm(x)));  x += down(SiLU(gate(h)) * up(h)), h = RMSNorm(x). Families whose
/// table adds q/k/v biases or q/k norms run it too (`attention` applies what the table has).
enum LlamaBlock: BlockComposition {
    static let activation = Activation.silu

    static func run<Hooks: BlockHooks>(_ block: inout BlockPass<Hooks>) {
        let z = block.attention(block.norm(block.stream, .attentionNorm))
        block.addProjection(z, .o)
        let a = block.gatedActivation(block.norm(block.stream, .mlpNorm), activation)
        block.addProjection(a, .down)
    }
}
