/// Checks that a model file's tensors are exactly those its configuration calls for, and that their values are
/// finite. A header that states 29 layers over 30 stored ones, or 1 layer, would otherwise run a different model
/// than the file holds; a NaN weight would print `perplexity nan` and exit 0. Shared by the GGUF and HF readers.
public enum TensorInventory {
    /// Stored tensors a reader may ignore: RoPE frequencies that transformers recomputes, and an output matrix saved
    /// beside the embedding it is tied to.
    static func isIgnorable(_ hfName: String, config: ModelConfig) -> Bool {
        hfName.hasSuffix(".rotary_emb.inv_freq") || (config.tiedEmbeddings && hfName == "lm_head.weight")
    }

    /// Throws when the file holds tensors the config does not account for. `stored` pairs each tensor's name in the
    /// file with its Hugging Face name (nil when it has none); missing tensors are reported by `ModelWeights`.
    public static func checkAccounted(_ stored: [(name: String, hfName: String?)], config: ModelConfig, file: String) throws {
        let expected = Set(ModelWeights.expectedShapes(config).map(\.name))
        let extra = stored.filter { entry in
            guard let hf = entry.hfName else { return true }
            return !expected.contains(hf) && !isIgnorable(hf, config: config)
        }.map(\.name)
        guard extra.isEmpty else {
            let listed = extra.prefix(3).map { PrintableText.quote($0) }.joined(separator: ", ")
            throw MopError(file: file, "holds \(extra.count) tensors the configuration (\(config.layers.count) layers) does not account for: \(listed)\(extra.count > 3 ? ", ..." : "")")
        }
    }

    /// Throws when `tensor` holds a NaN or an infinity, naming it and the first bad element.
    public static func checkFinite(_ tensor: Tensor, name: String, file: String) throws {
        var bad: (value: Float, index: Int)?
        tensor.forEachRowPanel(rows: tensor.panelRows()) { values, firstRow in
            guard bad == nil else { return }
            guard !ForwardOverflow.allFinite(values), let index = values.firstIndex(where: { !$0.isFinite }) else { return }
            bad = (values[index], firstRow * tensor.cols + index)
        }
        guard let bad else { return }
        throw MopError(file: file, "tensor \(PrintableText.quote(name)) holds \(bad.value) at element \(bad.index): the weights are corrupt")
    }
}
