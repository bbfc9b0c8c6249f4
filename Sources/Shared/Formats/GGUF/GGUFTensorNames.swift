/// The mapping between llama.cpp tensor names (`blk.N.attn_q.weight`) and Hugging Face names
/// (`model.layers.N.self_attn.q_proj.weight`), from the architecture's table; shared by the GGUF reader and writer.
public struct GGUFTensorNames {
    private let global: [(gguf: String, hf: String)]
    private let block: [(gguf: String, hf: String)]

    public init(_ architecture: Architecture) {
        let a = architecture.outer
        global = [a.embedding, a.finalNorm, a.output, a.finalNormBias, a.outputBias].compactMap { $0.map { ($0.gguf, $0.hf) } }
        block = architecture.blockTensors.map { ($0.ggufName, $0.hfName) }
    }

    /// The llama.cpp name of a Hugging Face tensor name, nil for names outside the architecture's layout.
    public func gguf(fromHF name: String) -> String? {
        Self.translate(name, global: global.map { ($0.hf, $0.gguf) }, block: block.map { ($0.hf, $0.gguf) },
                       prefix: "model.layers.", newPrefix: "blk.")
    }

    /// The Hugging Face name of a llama.cpp tensor name, nil for tensors mop does not use (e.g. `rope_freqs.weight`).
    public func hf(fromGGUF name: String) -> String? {
        Self.translate(name, global: global.map { ($0.gguf, $0.hf) }, block: block.map { ($0.gguf, $0.hf) },
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
