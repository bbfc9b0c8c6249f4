/// The mapping between llama.cpp tensor names (`blk.N.attn_q.weight`) and Hugging Face names
/// (`model.layers.N.self_attn.q_proj.weight`), shared by the GGUF reader and writer.
public enum GGUFTensorNames {
    private static let global: [(gguf: String, hf: String)] = [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("output_norm.weight", "model.norm.weight"),
        ("output.weight", "lm_head.weight"),
    ]

    private static let block: [(gguf: String, hf: String)] = [
        ("attn_norm.weight", "input_layernorm.weight"),
        ("attn_q.weight", "self_attn.q_proj.weight"),
        ("attn_k.weight", "self_attn.k_proj.weight"),
        ("attn_v.weight", "self_attn.v_proj.weight"),
        ("attn_output.weight", "self_attn.o_proj.weight"),
        ("ffn_norm.weight", "post_attention_layernorm.weight"),
        ("ffn_gate.weight", "mlp.gate_proj.weight"),
        ("ffn_up.weight", "mlp.up_proj.weight"),
        ("ffn_down.weight", "mlp.down_proj.weight"),
    ]

    /// The llama.cpp name of a Hugging Face tensor name, nil for names outside the LLaMA layout.
    public static func gguf(fromHF name: String) -> String? {
        translate(name, global: global.map { ($0.hf, $0.gguf) }, block: block.map { ($0.hf, $0.gguf) },
                  prefix: "model.layers.", newPrefix: "blk.")
    }

    /// The Hugging Face name of a llama.cpp tensor name, nil for tensors mop does not use (e.g. `rope_freqs.weight`).
    public static func hf(fromGGUF name: String) -> String? {
        translate(name, global: global.map { ($0.gguf, $0.hf) }, block: block.map { ($0.gguf, $0.hf) },
                  prefix: "blk.", newPrefix: "model.layers.")
    }

    private static func translate(_ name: String, global: [(from: String, to: String)], block: [(from: String, to: String)],
                                  prefix: String, newPrefix: String) -> String? {
        if let pair = global.first(where: { $0.from == name }) { return pair.to }
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        let suffix = rest[rest.index(after: dot)...]
        guard let pair = block.first(where: { $0.from == suffix }) else { return nil }
        return "\(newPrefix)\(layer).\(pair.to)"
    }
}
