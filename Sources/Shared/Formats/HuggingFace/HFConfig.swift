import Foundation

/// Special token ids a config.json may carry (transformers allows a list of end-of-sequence ids).
public struct HFSpecialTokenIds: Equatable, Sendable {
    public var bos: Int?
    public var eos: [Int]

    public init(bos: Int? = nil, eos: [Int] = []) {
        self.bos = bos
        self.eos = eos
    }
}

/// Hugging Face `config.json` of any `Architecture`'s model types
/// <-> `ModelConfig`; the keys only one family has come from its file (`hfExtraKeys`). Defaults follow transformers' `LlamaConfig` (Qwen2Config's are the same). Pruned, non-uniform
/// models carry per-layer arrays (`num_attention_heads_per_layer`, `num_key_value_heads_per_layer`,
/// `intermediate_size_per_layer`) that take precedence over the scalar keys; uniform models are written with the
/// family's plain keys only.
public enum HFConfig {
    // The engine's bounds (ModelConfig), checked here too so the message names the key.
    static let maxDimension = ModelConfig.maxDimension
    static let maxHeads = ModelConfig.maxHeads
    static let maxLayers = ModelConfig.maxLayers

    /// Parses config.json (of a LLaVA checkpoint: its language model's, `LlavaContainer`); `file` names it in errors.
    public static func parse(data: Data, file: String) throws -> ModelConfig {
        let fields = try LlavaContainer.languageModelFields(of: JSONFields(data: data, file: file))
        let modelType = try fields.string("model_type")
        guard let architecture = Architecture.forHFModelType(modelType) else {
            let supported = Architecture.hfModelTypesSupported.joined(separator: ", ")
            throw MopError(file: file, "unsupported model_type \(PrintableText.quote(modelType)) (supported: \(supported))")
        }
        let activationKey = fields.object["hidden_activation"] == nil ? "hidden_act" : "hidden_activation"
        if let activation = try fields.optionalString(activationKey), Activation.forHFName(activation) != architecture.activation {
            throw MopError(file: file, "unsupported \(activationKey) \(activation) (\(modelType) computes \(architecture.activation.hfNames[0]))")
        }
        // The architecture fixes which projections have biases; a config asking for others cannot be run.
        if try fields.optionalBool("mlp_bias") == true {
            throw MopError(file: file, "mlp_bias is true; MLP projections with biases are not supported")
        }
        if let attentionBias = try fields.optionalBool("attention_bias"), attentionBias != architecture.hasAttentionBias {
            throw MopError(file: file, "attention_bias is \(attentionBias) but \(modelType) models have \(architecture.hasAttentionBias ? "" : "no ")q/k/v biases")
        }
        // Attention scores are not capped (Gemma-2's `attn_logit_softcapping`); a model asking for it is not run unlike itself.
        if let cap = try fields.optionalDouble("attn_logit_softcapping") {
            throw MopError(file: file, "attn_logit_softcapping is \(cap); attention-logit soft-capping is not supported")
        }
        if architecture.slidingPattern == nil, try fields.optionalBool("use_sliding_window") == true {
            throw MopError(file: file, "use_sliding_window is true; sliding-window attention is not supported")
        }

        let layerCount = try fields.int("num_hidden_layers", in: 1...maxLayers)
        let heads = try perLayer(fields, "num_attention_heads", count: layerCount, max: maxHeads, fallback: nil)
        let kvHeads = try perLayer(fields, "num_key_value_heads", count: layerCount, max: maxHeads, fallback: heads.values)
        let intermediate = try perLayer(fields, "intermediate_size", count: layerCount, max: maxDimension, fallback: nil)
        let layers = (0..<layerCount).map {
            LayerShape(heads: heads.values[$0], kvHeads: kvHeads.values[$0], intermediate: intermediate.values[$0])
        }

        let hidden = try fields.int("hidden_size", in: 1...maxDimension)
        let headDim: Int
        if let explicit = try fields.optionalInt("head_dim", in: 1...maxHeads) {
            headDim = explicit
        } else {
            guard let scalarHeads = heads.scalar else { throw MopError(file: file, "key head_dim is missing (needed with per-layer head counts)") }
            guard hidden % scalarHeads == 0 else {
                throw MopError(file: file, "hidden_size \(hidden) is not a multiple of num_attention_heads \(scalarHeads); give head_dim")
            }
            headDim = hidden / scalarHeads
        }

        // Newer transformers nest rope_theta and the scaling under rope_parameters.
        let ropeParameters = try fields.optionalObject("rope_parameters")
        let ropeTheta = try fields.optionalDouble("rope_theta") ?? ropeParameters?.optionalDouble("rope_theta")
            ?? ropeParameters?.optionalObject("full_attention")?.optionalDouble("rope_theta") ?? 10000
        let config = ModelConfig(
            vocabSize: try fields.int("vocab_size", in: 1...maxDimension),
            hidden: hidden,
            headDim: headDim,
            layers: layers,
            rmsNormEps: Float(try fields.optionalDouble(architecture.norm.epsilonKeys.hf) ?? 1e-6),
            ropeTheta: Float(ropeTheta),
            ropeScaling: try ropeScaling(try fields.optionalObject("rope_scaling") ?? ropeParameters),
            tiedEmbeddings: try fields.optionalBool("tie_word_embeddings") ?? false,
            maxPositions: try fields.optionalInt("max_position_embeddings", in: 1...ModelConfig.maxPositionCount) ?? 2048,
            architecture: architecture,
            layerAttention: try layerAttention(fields, architecture: architecture, count: layerCount,
                                               ropeTheta: Float(ropeTheta), ropeParameters: ropeParameters),
            attentionScale: try fields.optionalDouble("query_pre_attn_scalar").map { Float(1 / $0.squareRoot()) },
            rotaryDims: try rotaryDims(fields, ropeParameters: ropeParameters, headDim: headDim),
            finalLogitSoftCap: try finalLogitSoftCap(fields, architecture: architecture))
        try config.validate(file: file)
        return config
    }

    /// `final_logit_softcapping` where the family's class applies it; a value for a family whose class ignores it is
    /// refused.
    private static func finalLogitSoftCap(_ fields: JSONFields, architecture: Architecture) throws -> Float? {
        guard let cap = try fields.optionalDouble("final_logit_softcapping") else { return nil }
        guard architecture.hfFinalLogitSoftCap else {
            throw MopError(file: fields.file, "final_logit_softcapping is \(cap), but \(architecture.hfClassName) does not cap logits")
        }
        return Float(cap)
    }

    /// The rotated elements of each head from `partial_rotary_factor` (top level, or in `rope_parameters`); nil when
    /// the whole head rotates.
    private static func rotaryDims(_ fields: JSONFields, ropeParameters: JSONFields?, headDim: Int) throws -> Int? {
        guard let factor = try fields.optionalDouble("partial_rotary_factor")
                ?? ropeParameters?.optionalDouble("partial_rotary_factor") else { return nil }
        guard factor > 0, factor <= 1 else {
            throw MopError(file: fields.file, "partial_rotary_factor \(factor) is outside (0, 1]")
        }
        let dims = Int(Double(headDim) * factor)
        return dims == headDim ? nil : dims
    }

    /// Per-layer attention of a family with sliding-window layers: `layer_types` (else the family's period) with
    /// `sliding_window` and the sliding layers' RoPE base; nil for a family without them.
    private static func layerAttention(_ fields: JSONFields, architecture: Architecture, count: Int, ropeTheta: Float,
                                       ropeParameters: JSONFields?) throws -> [LayerAttention]? {
        guard let pattern = architecture.slidingPattern,
              let window = try fields.optionalInt("sliding_window", in: 1...ModelConfig.maxPositionCount) else { return nil }
        let local = try ropeParameters?.optionalObject("sliding_attention")?.optionalDouble("rope_theta")
            ?? fields.optionalDouble("rope_local_base_freq") ?? Double(pattern.ropeTheta)
        let types: [String]
        if let listed = fields.object["layer_types"] {
            guard let strings = listed as? [String], strings.count == count,
                  strings.allSatisfy({ ["full_attention", "sliding_attention"].contains($0) }) else {
                throw MopError(file: fields.file, "layer_types must list full_attention or sliding_attention for each of the \(count) layers")
            }
            types = strings
        } else {
            types = (0..<count).map { ($0 + 1) % pattern.period == 0 ? "full_attention" : "sliding_attention" }
        }
        return types.map { $0 == "full_attention" ? LayerAttention(ropeTheta: ropeTheta)
                                                  : LayerAttention(ropeTheta: Float(local), window: window) }
    }

    /// A per-layer quantity: the `<key>_per_layer` array when present, else the scalar `key` for every layer,
    /// else `fallback`; `scalar` is the scalar key's value when it is given.
    private static func perLayer(_ fields: JSONFields, _ key: String, count: Int, max: Int,
                                 fallback: [Int]?) throws -> (values: [Int], scalar: Int?) {
        let scalar = try fields.optionalInt(key, in: 1...max)
        if let values = try fields.optionalIntArray(key + "_per_layer", in: 1...max, count: count) {
            return (values, scalar)
        }
        if let scalar { return ([Int](repeating: scalar, count: count), scalar) }
        guard let fallback else { throw MopError(file: fields.file, "key \(key) is missing") }
        return (fallback, nil)
    }

    /// `rope_scaling` (or `rope_parameters`): nil, a `default` type, or llama3 scaling; other schemes are refused.
    private static func ropeScaling(_ fields: JSONFields?) throws -> RopeScaling? {
        guard let fields else { return nil }
        guard let type = try fields.optionalString("rope_type") ?? fields.optionalString("type") else {
            // rope_parameters may hold only rope_theta.
            return nil
        }
        switch type {
        case "default":
            return nil
        case "llama3":
            return RopeScaling(
                factor: Float(try fields.double("factor")),
                lowFreqFactor: Float(try fields.double("low_freq_factor")),
                highFreqFactor: Float(try fields.double("high_freq_factor")),
                originalMaxPositions: try fields.int("original_max_position_embeddings", in: 1...Int(Int32.max)))
        default:
            throw MopError(file: fields.file, "unsupported rope scaling type \(type) (only llama3)")
        }
    }

    /// The special token ids of config.json (absent ones are nil / empty); of a LLaVA checkpoint, its language model's.
    public static func parseSpecialTokens(data: Data, file: String) throws -> HFSpecialTokenIds {
        let fields = try LlavaContainer.languageModelFields(of: JSONFields(data: data, file: file))
        let eos = fields.object["eos_token_id"] is [Any]
            ? try fields.optionalIntArray("eos_token_id") ?? []
            : try fields.optionalInt("eos_token_id").map { [$0] } ?? []
        return HFSpecialTokenIds(bos: try fields.optionalInt("bos_token_id"), eos: eos)
    }

    /// config.json for `config` as pretty-printed JSON with sorted keys; throws only for non-finite numbers. A uniform
    /// model gets its family's plain keys (plus `head_dim`); a non-uniform one also gets the per-layer arrays, with
    /// the scalars set to the largest layer.
    public static func encode(_ config: ModelConfig, specialTokens: HFSpecialTokenIds = HFSpecialTokenIds(),
                              dtype: SafetensorsDType = .f32) throws -> Data {
        let architecture = config.architecture
        var object: [String: Any] = architecture.hfExtraKeys(config).merging([
            "architectures": [architecture.hfClassName],
            "model_type": architecture.hfModelTypes[0],
            "hidden_act": architecture.activation.hfNames[0],
            "vocab_size": config.vocabSize,
            "hidden_size": config.hidden,
            "head_dim": config.headDim,
            "num_hidden_layers": config.layers.count,
            "num_attention_heads": config.layers.map(\.heads).max() ?? 0,
            "num_key_value_heads": config.layers.map(\.kvHeads).max() ?? 0,
            "intermediate_size": config.layers.map(\.intermediate).max() ?? 0,
            architecture.norm.epsilonKeys.hf: jsonNumber(config.rmsNormEps),
            "rope_theta": jsonNumber(config.ropeTheta),
            "tie_word_embeddings": config.tiedEmbeddings,
            "max_position_embeddings": config.maxPositions,
            "torch_dtype": dtype.torchName,
            "use_cache": true,
        ]) { $1 }
        if !config.isUniform {
            object["num_attention_heads_per_layer"] = config.layers.map(\.heads)
            object["num_key_value_heads_per_layer"] = config.layers.map(\.kvHeads)
            object["intermediate_size_per_layer"] = config.layers.map(\.intermediate)
        }
        if let scaling = config.ropeScaling {
            object["rope_scaling"] = [
                "rope_type": "llama3",
                "factor": jsonNumber(scaling.factor),
                "low_freq_factor": jsonNumber(scaling.lowFreqFactor),
                "high_freq_factor": jsonNumber(scaling.highFreqFactor),
                "original_max_position_embeddings": scaling.originalMaxPositions,
            ] as [String: Any]
        } else {
            object["rope_scaling"] = NSNull()
        }
        if let bos = specialTokens.bos { object["bos_token_id"] = bos }
        if specialTokens.eos.count == 1 {
            object["eos_token_id"] = specialTokens.eos[0]
        } else if !specialTokens.eos.isEmpty {
            object["eos_token_id"] = specialTokens.eos
        }
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        } catch {
            // Only a non-finite float (a NaN epsilon, an infinite theta) has no JSON form.
            throw MopError(file: "config.json", "cannot encode the configuration: a value is not a finite number")
        }
    }

    /// The shortest decimal that reads back as the same Float, so 1e-5 is written as 1e-05, not 9.99999974737875e-06.
    private static func jsonNumber(_ value: Float) -> Double {
        Double("\(value)") ?? Double(value)
    }
}
