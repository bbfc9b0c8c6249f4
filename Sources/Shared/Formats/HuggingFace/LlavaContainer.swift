/// A LLaVA checkpoint (config.json `model_type` llava, `LlavaForConditionalGeneration`): a language model of an
/// ordinary family whose config is `text_config`, beside a CLIP vision tower (`vision_config`) and the projector from
/// its features to the language model's hidden size. mop prunes the language model only; this reads it out of the
/// container, whatever key layout the weights were saved in:
///
/// | layout | language model | head | vision tower | projector |
/// |---|---|---|---|---|
/// | llava-hf (transformers 4) | `language_model.model.*` | `language_model.lm_head.weight` | `vision_tower.vision_model.*` | `multi_modal_projector.*` |
/// | transformers 5 in memory | `model.language_model.*` | `lm_head.weight` | `model.vision_tower.*` | `model.multi_modal_projector.*` |
/// | transformers 5.25 `save_pretrained` | `language_model.model.*` | `language_model.lm_head.weight` | `vision_tower.*` | `multi_modal_projector.*` |
///
/// Under any of them, a language-model tensor has the name a plain directory of its family gives it (`model.*`,
/// `lm_head.weight`), and a vision or projector tensor the name the vision tower's table uses (`vision_tower.*`,
/// `multi_modal_projector.*`).
public enum LlavaContainer {
    public static let modelType = "llava"

    /// True when config.json describes a LLaVA checkpoint.
    static func holds(_ fields: JSONFields) -> Bool {
        (try? fields.optionalString("model_type")) == modelType
    }

    /// The fields a language model's config is read from: config.json's own, or a LLaVA's `text_config` with the
    /// keys llava-hf's configs leave to transformers' `LlamaConfig` defaults made explicit (llava-1.5-7b-hf states
    /// only the vocabulary, context, epsilon and model type of its Vicuna).
    static func languageModelFields(of fields: JSONFields) throws -> JSONFields {
        guard holds(fields) else { return fields }
        guard let text = try fields.optionalObject("text_config") else {
            throw MopError(file: fields.file, "a llava config.json without text_config (the language model's config)")
        }
        guard try text.optionalString("model_type") ?? "llama" == "llama" else { return text }
        let defaults: [String: Any] = [
            "model_type": "llama", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
            "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048,
        ]
        return JSONFields(object: text.object.merging(defaults) { given, _ in given }, file: fields.file, context: "text_config.")
    }

    /// The name a stored tensor has in a plain directory of the language model's family (`model.layers.0...`,
    /// `lm_head.weight`); nil for a tensor of the vision tower or projector, or of no layout.
    static func languageModelName(ofStored name: String) -> String? {
        for (prefix, replacement) in languageModelPrefixes where name.hasPrefix(prefix) {
            return replacement + name.dropFirst(prefix.count)
        }
        return nil
    }

    /// The name of a stored vision-tower or projector tensor under the vision table's prefixes; nil for any other.
    static func visionName(ofStored name: String) -> String? {
        for (prefix, replacement) in visionPrefixes where name.hasPrefix(prefix) {
            return replacement + name.dropFirst(prefix.count)
        }
        return nil
    }

    /// Each stored name that `rename` maps (`languageModelName`, `visionName`), keyed by what it maps to; two stored
    /// tensors of one name (a file mixing layouts that holds a tensor twice) are refused, naming both.
    static func uniqueNames(_ stored: [String], file: String, _ rename: (String) -> String?) throws -> [String: String] {
        var names: [String: String] = [:]
        for name in stored {
            guard let renamed = rename(name) else { continue }
            if let other = names[renamed] {
                throw MopError(file: file, "holds \(PrintableText.quote(renamed)) twice, as \(PrintableText.quote(other)) and \(PrintableText.quote(name))")
            }
            names[renamed] = name
        }
        return names
    }

    /// Longest prefixes first, so `language_model.lm_head.` is not read as a tensor of the `language_model.` body.
    private static let languageModelPrefixes: [(String, String)] = [
        ("language_model.model.", "model."), ("model.language_model.", "model."),
        ("language_model.lm_head.", "lm_head."), ("lm_head.", "lm_head."),
    ]
    private static let visionPrefixes: [(String, String)] = [
        ("vision_tower.vision_model.", "vision_tower."), ("model.vision_tower.vision_model.", "vision_tower."),
        ("model.vision_tower.", "vision_tower."), ("vision_tower.", "vision_tower."),
        ("model.multi_modal_projector.", "multi_modal_projector."), ("multi_modal_projector.", "multi_modal_projector."),
    ]
}
