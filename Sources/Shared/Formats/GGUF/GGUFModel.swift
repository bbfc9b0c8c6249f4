import Dispatch

/// Loads a model from a GGUF file of any `Architecture` (its `ggufNames`; per-layer head,
/// KV-head and feed-forward counts as llama.cpp reads them). Weights are returned in the
/// Hugging Face layout (Q/K un-permuted where the converter permuted them), the matrices kept as stored unless asked
/// otherwise (`WeightStorage`).
public enum GGUFModel {
    /// Hyper-parameter keys, after the `<architecture>.` prefix. Shared with `GGUFWriter`.
    enum Key {
        static let blockCount = "block_count"
        static let contextLength = "context_length"
        static let embeddingLength = "embedding_length"
        static let feedForwardLength = "feed_forward_length"
        static let headCount = "attention.head_count"
        static let headCountKV = "attention.head_count_kv"
        static let keyLength = "attention.key_length"
        static let valueLength = "attention.value_length"
        static let ropeFreqBase = "rope.freq_base"
        static let ropeDimensionCount = "rope.dimension_count"
        static let ropeScalingType = "rope.scaling.type"
        static let slidingWindow = "attention.sliding_window"
        static let ropeFreqBaseSlidingWindow = "rope.freq_base_swa"
        static let finalLogitSoftCap = "final_logit_softcapping"
        static let attentionLogitSoftCap = "attn_logit_softcapping"
        static let vocabSize = "vocab_size"
    }

    /// The model and, when the file has tokenizer metadata, its tokenizer.
    public static func load(path: String, storage: WeightStorage = .stored,
                            part: ModelPart? = nil) throws -> (weights: ModelWeights, tokenizer: TokenizerSpec?) {
        let file = try GGUFFile(path: path)
        // The tokenizer is cheap to check, so a bad one fails before seconds of dequantization.
        let tokenizer = try GGUFTokenizer.read(from: file)
        return (try weights(of: file, storage: storage, part: part), tokenizer)
    }

    /// The architecture described by the file's metadata (no tensor data is read).
    public static func config(of file: GGUFFile) throws -> ModelConfig {
        func fail(_ problem: String) -> MopError { MopError(file: file.path, problem) }
        guard let arch = file.architecture else { throw fail("general.architecture is missing") }
        // A `deci` file is a pruned LLaMA, or a pruned Qwen2 when its blocks carry q/k/v biases.
        let hasBias = Architecture.ggufHasAttentionBias(file.tensors.lazy.map(\.name))
        guard let architecture = Architecture.forGGUF(arch, hasAttentionBias: hasBias) else {
            let supported = Architecture.ggufNamesSupported.joined(separator: ", ")
            throw fail("unsupported architecture \(PrintableText.quote(arch)) (supported: \(supported))")
        }
        func value(_ key: String) -> GGUFValue? { file.metadata["\(arch).\(key)"] }
        func int(_ key: String) throws -> Int? {
            guard let v = value(key) else { return nil }
            guard let n = v.int, n >= 0 else { throw fail("\(arch).\(key) \(v.summary) is not a non-negative integer") }
            return n
        }
        func required(_ key: String) throws -> Int {
            guard let n = try int(key) else { throw fail("\(arch).\(key) is missing") }
            return n
        }
        func float(_ key: String) throws -> Float? {
            guard let v = value(key) else { return nil }
            // Its range is ModelConfig.validate's, shared with config.json.
            guard let x = v.double, x.isFinite else { throw fail("\(arch).\(key) \(v.summary) is not a finite number") }
            return Float(x)
        }

        let blockCount = try required(Key.blockCount)
        // Every block has several tensors, so a larger count is corrupt (and would drive huge per-layer arrays).
        guard blockCount > 0, blockCount <= file.tensors.count else {
            throw fail("\(arch).\(Key.blockCount) \(blockCount) does not fit the \(file.tensors.count) tensors in the file")
        }
        // llama.cpp accepts a scalar (same for every layer) or one entry per layer for these keys.
        func perLayer(_ key: String, default fallback: [Int]? = nil) throws -> [Int] {
            guard let v = value(key) else {
                guard let fallback else { throw fail("\(arch).\(key) is missing") }
                return fallback
            }
            if let n = v.int, n >= 0 { return [Int](repeating: n, count: blockCount) }
            guard let array = v.array, array.count == blockCount else {
                throw fail("\(arch).\(key) must be an integer or an array of \(blockCount) integers, one per layer")
            }
            return try array.map { element in
                guard let n = element.int, n >= 0 else { throw fail("\(arch).\(key) holds \(element.summary), not a non-negative integer") }
                return n
            }
        }
        let heads = try perLayer(Key.headCount)
        let kvHeads = try perLayer(Key.headCountKV, default: heads)
        let intermediate = try perLayer(Key.feedForwardLength)
        let hidden = try required(Key.embeddingLength)

        let headDim: Int
        if let keyLength = try int(Key.keyLength) {
            headDim = keyLength
        } else {
            guard heads[0] > 0, hidden % heads[0] == 0 else {
                throw fail("\(arch).\(Key.keyLength) is missing and \(hidden) does not divide into \(heads[0]) heads")
            }
            headDim = hidden / heads[0]
        }
        if let valueLength = try int(Key.valueLength), valueLength != headDim {
            throw fail("\(arch).\(Key.valueLength) \(valueLength) differs from the key length \(headDim)")
        }
        // Partial rotary (Phi) only where the rows are in Hugging Face order: a pair-permuted file would permute
        // only the rotated part of each head.
        let rotary = try int(Key.ropeDimensionCount)
        if let rotary, rotary != headDim, !architecture.ggufHalfRotation.contains(arch) {
            throw fail("\(arch).\(Key.ropeDimensionCount) \(rotary) differs from the head dimension \(headDim) (partial rotary is not supported)")
        }
        if let scaling = value(Key.ropeScalingType), scaling.string != "none" {
            throw fail("\(arch).\(Key.ropeScalingType) \(scaling.summary) is not supported")
        }
        if file.tensor(named: "rope_freqs.weight") != nil {
            throw fail("rope_freqs.weight (llama3 rope scaling) is not supported")
        }

        let vocabSize: Int
        if let n = try int(Key.vocabSize) {
            vocabSize = n
        } else if let tokens = file.metadata["tokenizer.ggml.tokens"]?.array {
            vocabSize = tokens.count
        } else if let embedding = file.tensor(named: architecture.embeddingTensor.gguf), embedding.dimensions.count == 2 {
            vocabSize = embedding.dimensions[1]
        } else {
            throw fail("the vocabulary size is unknown (no \(arch).\(Key.vocabSize), tokens or token_embd.weight)")
        }
        let epsilonKey = architecture.norm.epsilonKeys.gguf
        guard let epsilon = try float(epsilonKey) else { throw fail("\(arch).\(epsilonKey) is missing") }

        let layers = (0..<blockCount).map { LayerShape(heads: heads[$0], kvHeads: kvHeads[$0], intermediate: intermediate[$0]) }
        let ropeTheta = try float(Key.ropeFreqBase) ?? 10000
        // A family with sliding-window layers states the window; which layers slide follows its period.
        var layerAttention: [LayerAttention]?
        if let pattern = architecture.slidingPattern, let window = try int(Key.slidingWindow), window > 0 {
            let local = try float(Key.ropeFreqBaseSlidingWindow) ?? pattern.ropeTheta
            layerAttention = (0..<blockCount).map { index in
                (index + 1) % pattern.period == 0 ? LayerAttention(ropeTheta: ropeTheta)
                                                  : LayerAttention(ropeTheta: local, window: window)
            }
        }
        if let cap = try float(Key.attentionLogitSoftCap), cap != 0 {
            throw fail("\(arch).\(Key.attentionLogitSoftCap) is \(cap); attention-logit soft-capping is not supported")
        }
        // llama.cpp reads 0 as no cap.
        let finalLogitSoftCap = try float(Key.finalLogitSoftCap).flatMap { $0 == 0 ? nil : $0 }
        let config = ModelConfig(vocabSize: vocabSize, hidden: hidden, headDim: headDim, layers: layers,
                                 rmsNormEps: epsilon, ropeTheta: ropeTheta,
                                 tiedEmbeddings: file.tensor(named: architecture.outputTensor.gguf) == nil,
                                 maxPositions: try required(Key.contextLength), architecture: architecture,
                                 layerAttention: layerAttention, rotaryDims: rotary.flatMap { $0 == headDim ? nil : $0 },
                                 finalLogitSoftCap: finalLogitSoftCap)
        try config.validate(file: file.path)
        return config
    }

    /// Every tensor the config needs, matrices held as `storage` says and vectors in fp32, with Q/K rows in the
    /// Hugging Face order. Tensors outside `part` (nil: the whole model) stay mapped and unchecked (`ModelPart`).
    public static func weights(of file: GGUFFile, storage: WeightStorage = .stored, part: ModelPart? = nil) throws -> ModelWeights {
        let config = try config(of: file)
        let names = GGUFTensorNames(config.architecture)
        let jobs = try ModelWeights.expectedShapes(config).compactMap { entry -> (hfName: String, info: GGUFTensorInfo)? in
            guard let ggufName = names.gguf(fromHF: entry.name) else { return nil }
            guard let info = file.tensor(named: ggufName) else { throw MopError(file: file.path, "missing tensor \(ggufName)") }
            return (entry.name, info)
        }
        // Missing tensors are reported above, extra ones here, both before seconds of dequantization.
        try TensorInventory.checkAccounted(file.tensors.map { ($0.name, names.hf(fromGGUF: $0.name)) },
                                           config: config, file: file.path)
        // Dequantization is mostly page faults and memory traffic; tensors are independent, so use every core.
        var results = [Result<Tensor, any Error>](repeating: .success(Tensor(zeros: [0])), count: jobs.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let slots = GGUFResultSlots(base: buffer.baseAddress)
            DispatchQueue.concurrentPerform(iterations: jobs.count) { index in
                slots.base?[index] = Result {
                    let info = jobs[index].info
                    guard part?.holds(jobs[index].hfName, config: config) ?? true else {
                        return try file.matrix(info, storage: .stored) ?? file.dequantize(info)
                    }
                    let tensor = try file.matrix(info, storage: storage) ?? file.dequantize(info)
                    try TensorInventory.checkFinite(tensor, name: jobs[index].info.name, file: file.path)
                    return tensor
                }
            }
        }
        var tensors: [String: Tensor] = [:]
        for (job, result) in zip(jobs, results) { tensors[job.hfName] = try result.get() }
        return GGUFRopeOrder.convert(try ModelWeights(config: config, tensors: tensors, file: file.path), toGGUF: false,
                                     ggufArchitecture: file.architecture ?? "")
    }
}

/// Result slots that parallel iterations fill, each writing only its own index.
private struct GGUFResultSlots: @unchecked Sendable {
    let base: UnsafeMutablePointer<Result<Tensor, any Error>>?
}
