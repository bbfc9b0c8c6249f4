import Foundation

/// LLaVA-1.5's eyes (`LlavaForConditionalGeneration`): a CLIP ViT (pre-LayerNorm, quick-GELU, every patch attending
/// to every other) whose hidden states after `vision_feature_layer` (the second-to-last layer), without the CLS token,
/// pass the 2-layer GELU projector into the language model's width, where they replace the embeddings of the
/// `<image>` tokens. The language model is an ordinary family (LLaMA for LLaVA-1.5) that `LlavaContainer` reads out
/// of the checkpoint and the only part mop prunes; this part is frozen and written back byte for byte.
public struct LlavaVision: Sendable {
    /// config.json's `vision_config` (CLIPVisionConfig's defaults for absent keys) and the top-level LLaVA keys.
    public struct Config: Equatable, Sendable {
        public let hidden: Int, intermediate: Int, layers: Int, heads: Int
        public let imageSize: Int, patchSize: Int, channels: Int
        public let eps: Float
        public let activation: Activation
        /// Encoder layers run for the features: hidden_states[vision_feature_layer] is the output of this many.
        public let featureLayers: Int
        /// `vision_feature_select_strategy` `full` keeps the CLS row; `default` drops it.
        public let keepsClassToken: Bool
        public let projectorActivation: Activation
        public let projectorBias: Bool
        public let imageTokenId: Int32
        /// The language model's hidden size, the projector's output width.
        public let textHidden: Int
        /// Whether the checkpoint holds the tower's final LayerNorm: a Hugging Face checkpoint does (unused by the
        /// features), llama.cpp's mmproj drops it with the layers past the feature layer.
        public let postLayerNorm: Bool

        public var headDim: Int { hidden / heads }
        public var patches: Int { (imageSize / patchSize) * (imageSize / patchSize) }
        /// Feature rows of one image: the `<image>` tokens it fills.
        public var imageTokens: Int { patches + (keepsClassToken ? 1 : 0) }

        /// Reads config.json's fields of a LLaVA checkpoint whose language model is `text`.
        init(fields: JSONFields, text: ModelConfig) throws {
            guard let vision = try fields.optionalObject("vision_config") else {
                throw MopError(file: fields.file, "a llava config.json without vision_config")
            }
            let type = try vision.optionalString("model_type") ?? "clip_vision_model"
            guard type == "clip_vision_model" else {
                throw MopError(file: fields.file, "unsupported vision_config.model_type \(PrintableText.quote(type)) (supported: clip_vision_model)")
            }
            hidden = try vision.optionalInt("hidden_size", in: 1...ModelConfig.maxDimension) ?? 768
            intermediate = try vision.optionalInt("intermediate_size", in: 1...ModelConfig.maxDimension) ?? 3072
            layers = try vision.optionalInt("num_hidden_layers", in: 1...ModelConfig.maxLayers) ?? 12
            heads = try vision.optionalInt("num_attention_heads", in: 1...ModelConfig.maxHeads) ?? 12
            imageSize = try vision.optionalInt("image_size", in: 1...8192) ?? 224
            patchSize = try vision.optionalInt("patch_size", in: 1...imageSize) ?? 32
            channels = try vision.optionalInt("num_channels", in: 1...4) ?? 3
            eps = Float(try vision.optionalDouble("layer_norm_eps") ?? 1e-5)
            activation = try Self.activation(vision, "hidden_act", default: "quick_gelu")
            projectorActivation = try Self.activation(fields, "projector_hidden_act", default: "gelu")
            projectorBias = try fields.optionalBool("multimodal_projector_bias") ?? true
            guard hidden % heads == 0, imageSize % patchSize == 0 else {
                throw MopError(file: fields.file, "vision_config: hidden_size \(hidden) over \(heads) heads or image_size \(imageSize) over patch_size \(patchSize) does not divide")
            }
            guard !(fields.object["vision_feature_layer"] is [Any]) else {
                throw MopError(file: fields.file, "vision_feature_layer lists several layers; only one is supported")
            }
            let layer = try fields.optionalInt("vision_feature_layer", in: -(layers + 1)...layers) ?? -2
            featureLayers = layer < 0 ? layers + 1 + layer : layer
            let strategy = try fields.optionalString("vision_feature_select_strategy") ?? "default"
            guard ["default", "full"].contains(strategy) else {
                throw MopError(file: fields.file, "unsupported vision_feature_select_strategy \(PrintableText.quote(strategy)) (default or full)")
            }
            keepsClassToken = strategy == "full"
            let token = try fields.optionalInt("image_token_index") ?? fields.optionalInt("image_token_id") ?? 32000
            guard token < text.vocabSize else {
                throw MopError(file: fields.file, "image_token_index \(token) is outside the language model's \(text.vocabSize) tokens")
            }
            imageTokenId = Int32(token)
            textHidden = text.hidden
            postLayerNorm = true
        }

        /// A tower of `layers` layers, every one feeding the features, as an mmproj file describes it (`GGUFMmproj`).
        init(hidden: Int, intermediate: Int, layers: Int, heads: Int, imageSize: Int, patchSize: Int, channels: Int, eps: Float,
             activation: Activation, featureLayers: Int, projectorBias: Bool, imageTokenId: Int32, textHidden: Int) {
            (self.hidden, self.intermediate, self.layers, self.heads) = (hidden, intermediate, layers, heads)
            (self.imageSize, self.patchSize, self.channels, self.eps) = (imageSize, patchSize, channels, eps)
            (self.activation, self.featureLayers, self.keepsClassToken) = (activation, featureLayers, false)
            // LLaVA-1.5's projector is GELU (erf) whichever file holds it.
            projectorActivation = Activation.geluErf
            (self.projectorBias, self.imageTokenId) = (projectorBias, imageTokenId)
            (self.textHidden, postLayerNorm) = (textHidden, false)
        }

        private static func activation(_ fields: JSONFields, _ key: String, default name: String) throws -> Activation {
            let given = try fields.optionalString(key) ?? name
            guard let activation = Activation.forHFName(given) else {
                throw MopError(file: fields.file, "unsupported \(key) \(PrintableText.quote(given))")
            }
            return activation
        }

        /// Every tensor of the tower and projector under its vision-table name (`LlavaContainer.visionName`), with
        /// its shape: the checkpoint holds all of them, the layers past the feature layer and the final norm included.
        public var tensorShapes: [(name: String, shape: [Int])] {
            let c = hidden, tower = "vision_tower."
            var shapes: [(String, [Int])] = [
                (tower + "embeddings.class_embedding", [c]),
                (tower + "embeddings.patch_embedding.weight", [c, channels, patchSize, patchSize]),
                (tower + "embeddings.position_embedding.weight", [patches + 1, c]),
                (tower + "pre_layrnorm.weight", [c]), (tower + "pre_layrnorm.bias", [c]),
            ]
            for i in 0..<layers {
                let layer = tower + "encoder.layers.\(i)."
                for projection in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                    shapes += [(layer + "self_attn.\(projection).weight", [c, c]), (layer + "self_attn.\(projection).bias", [c])]
                }
                for norm in ["layer_norm1", "layer_norm2"] { shapes += [(layer + norm + ".weight", [c]), (layer + norm + ".bias", [c])] }
                shapes += [(layer + "mlp.fc1.weight", [intermediate, c]), (layer + "mlp.fc1.bias", [intermediate]),
                           (layer + "mlp.fc2.weight", [c, intermediate]), (layer + "mlp.fc2.bias", [c])]
            }
            if postLayerNorm { shapes += [(tower + "post_layernorm.weight", [c]), (tower + "post_layernorm.bias", [c])] }
            let projector = "multi_modal_projector."
            shapes.append((projector + "linear_1.weight", [textHidden, c]))
            if projectorBias { shapes.append((projector + "linear_1.bias", [textHidden])) }
            shapes.append((projector + "linear_2.weight", [textHidden, textHidden]))
            if projectorBias { shapes.append((projector + "linear_2.bias", [textHidden])) }
            return shapes
        }
    }

    public let config: Config
    /// Every tensor of `Config.tensorShapes` by its vision-table name, fp32.
    public let tensors: [String: Tensor]

    /// The vision part of the LLaVA checkpoint at `path` whose language model is `text`; nil for a directory of a
    /// plain language model. Every vision and projector tensor must be there with its shape, and no other.
    public static func load(path: String, text: ModelConfig) throws -> LlavaVision? {
        let configPath = (path as NSString).appendingPathComponent(HFModelDirectory.configName)
        let fields = try JSONFields(data: try RegularFile.read(configPath), file: configPath)
        guard LlavaContainer.holds(fields) else { return nil }
        let config = try Config(fields: fields, text: text)
        let (entries, read, file) = try HFModelDirectory.storedTensors(in: path)
        let stored = try LlavaContainer.uniqueNames(entries.map(\.name), file: file, LlavaContainer.visionName(ofStored:))
        let shapes = config.tensorShapes
        var tensors: [String: Tensor] = [:]
        for (name, shape) in shapes {
            guard let storedName = stored[name], let tensor = try read(storedName, .fp32) else {
                throw MopError(file: file, "missing tensor \(name) (of the vision tower or projector)")
            }
            guard tensor.shape == shape else {
                throw MopError(file: file, "tensor \(storedName) has shape \(tensor.shape), vision_config implies \(shape)")
            }
            try TensorInventory.checkFinite(tensor, name: storedName, file: file)
            tensors[name] = tensor
        }
        let extra = Set(stored.keys).subtracting(shapes.map(\.name)).sorted()
        guard extra.isEmpty else {
            throw MopError(file: file, "holds \(extra.count) vision tensors vision_config (\(config.layers) layers) does not account for: \(extra.prefix(3).map { PrintableText.quote(stored[$0]!) }.joined(separator: ", "))")
        }
        return LlavaVision(config: config, tensors: tensors)
    }

    /// The projected features of one image: [imageTokens, textHidden] from pixels [channels, imageSize, imageSize]
    /// (preprocessed as the checkpoint's processor does, `ImagePreprocessor`).
    public func features(pixels: [Float]) -> [Float] {
        let c = config.hidden, p = config.patchSize, side = config.imageSize / p, size = config.imageSize
        precondition(pixels.count == config.channels * size * size, "\(pixels.count) pixel values for a \(size) x \(size) image")
        // Each patch as a row in the convolution weight's (channel, row, column) order: the convolution is a product.
        let width = config.channels * p * p
        var patches = [Float](repeating: 0, count: config.patches * width)
        for patch in 0..<config.patches {
            let top = (patch / side) * p, left = (patch % side) * p
            for channel in 0..<config.channels {
                for i in 0..<p {
                    let source = (channel * size + top + i) * size + left, target = patch * width + (channel * p + i) * p
                    for j in 0..<p { patches[target + j] = pixels[source + j] }
                }
            }
        }
        let tokens = config.patches + 1
        var x = tensor("embeddings.class_embedding").data + BLAS.linear(patches, rows: config.patches, tensor("embeddings.patch_embedding.weight"))
        Linear.add(tensor("embeddings.position_embedding.weight").data, to: &x)
        x = LayerNorm.forward(x, rows: tokens, weight: tensor("pre_layrnorm.weight"), bias: tensor("pre_layrnorm.bias"), eps: config.eps)
        for layer in 0..<config.featureLayers { encoderLayer(layer, &x, tokens: tokens) }
        if !config.keepsClassToken { x.removeFirst(c) }
        let rows = config.imageTokens
        var h = affine(x, rows: rows, "multi_modal_projector.linear_1", tower: false)
        h.withUnsafeMutableBufferPointer { config.projectorActivation.forward($0.baseAddress!, count: $0.count) }
        return affine(h, rows: rows, "multi_modal_projector.linear_2", tower: false)
    }

    /// One pre-LayerNorm encoder layer on x [tokens, hidden], in place: x += out(attention(LN1(x))); x += fc2(act(fc1(LN2(x)))).
    private func encoderLayer(_ index: Int, _ x: inout [Float], tokens: Int) {
        let prefix = "encoder.layers.\(index).", eps = config.eps
        let h = LayerNorm.forward(x, rows: tokens, weight: tensor(prefix + "layer_norm1.weight"),
                                  bias: tensor(prefix + "layer_norm1.bias"), eps: eps)
        let (q, k, v) = (affine(h, rows: tokens, prefix + "self_attn.q_proj"), affine(h, rows: tokens, prefix + "self_attn.k_proj"),
                         affine(h, rows: tokens, prefix + "self_attn.v_proj"))
        let z = BidirectionalAttention.attend(q: q, k: k, v: v, tokens: tokens, heads: config.heads, headDim: config.headDim,
                                              scale: 1 / Float(config.headDim).squareRoot())
        Linear.add(affine(z, rows: tokens, prefix + "self_attn.out_proj"), to: &x)
        let m = LayerNorm.forward(x, rows: tokens, weight: tensor(prefix + "layer_norm2.weight"),
                                  bias: tensor(prefix + "layer_norm2.bias"), eps: eps)
        var a = affine(m, rows: tokens, prefix + "mlp.fc1")
        a.withUnsafeMutableBufferPointer { config.activation.forward($0.baseAddress!, count: $0.count) }
        Linear.add(affine(a, rows: tokens, prefix + "mlp.fc2"), to: &x)
    }

    /// x [rows, in] times `name`.weight^T plus `name`.bias when the checkpoint has it: [rows, out].
    private func affine(_ x: [Float], rows: Int, _ name: String, tower: Bool = true) -> [Float] {
        let prefix = tower ? "vision_tower." : ""
        var y = BLAS.linear(x, rows: rows, tensors[prefix + name + ".weight"]!)
        if let bias = tensors[prefix + name + ".bias"] { Linear.addBias(bias, to: &y, rows: rows) }
        return y
    }

    private func tensor(_ name: String) -> Tensor { tensors["vision_tower." + name]! }

    /// The prompt with every `<image>` token repeated once per feature row of an image, as LLaVA's processor expands it.
    public func expand(_ tokens: [Int32]) -> [Int32] {
        tokens.flatMap { $0 == config.imageTokenId ? [Int32](repeating: $0, count: config.imageTokens) : [$0] }
    }

    /// The input embeddings [T, textHidden] of an expanded prompt whose `<image>` tokens take the rows of `features`
    /// [n, textHidden] in order (one image's, or several images' one after another); the prompt must hold exactly n.
    public func embed(_ transformer: Transformer, tokens: [Int32], features: [Float]) throws -> [Float] {
        transformer.embed([tokens], features: try place(features, in: tokens))
    }

    /// `features` [n, textHidden] as the rows of the runs of `<image>` tokens in `tokens`, in order; the tokens must
    /// hold exactly n.
    public func place(_ features: [Float], in tokens: [Int32]) throws -> [FeatureRows] {
        let d = config.textHidden
        let runs = imageRuns(tokens)
        let slots = runs.reduce(0) { $0 + $1.count }
        guard slots * d == features.count else {
            throw MopError(file: "prompt", "holds \(slots) image tokens, the images give \(features.count / d) feature rows")
        }
        var used = 0
        return runs.map { run in
            defer { used += run.count }
            return FeatureRows(rows: run, values: Array(features[used * d..<(used + run.count) * d]))
        }
    }

    /// The positions of `tokens` holding the image token, as runs of consecutive positions.
    public func imageRuns(_ tokens: [Int32]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        for position in tokens.indices where tokens[position] == config.imageTokenId {
            if let last = runs.last, last.upperBound == position {
                runs[runs.count - 1] = last.lowerBound..<(position + 1)
            } else {
                runs.append(position..<(position + 1))
            }
        }
        return runs
    }

    /// Logits [T, V] of an expanded prompt holding an image's features (`embed`).
    public func logits(_ transformer: Transformer, tokens: [Int32], features: [Float]) throws -> Tensor {
        var x = try embed(transformer, tokens: tokens, features: features)
        transformer.runBlocks(transformer.config.layers.indices, &x, segments: [0..<tokens.count])
        return Tensor(shape: [tokens.count, transformer.config.vocabSize], data: transformer.head(transformer.finalNorm(x)))
    }

    /// A prompt holding the image at `imagePath` (decoded and made pixels by `preprocessor`, read from
    /// `preprocessorFile`): the prompt's tokens with its `<image>` expanded (one is put after the BOS, or first, when
    /// the prompt has none) and their input embeddings [T, textHidden].
    public func imagePrompt(_ tokens: [Int32], imagePath: String, preprocessor: ImagePreprocessor, preprocessorFile: String,
                            transformer: Transformer, bos: Int32?) throws -> (tokens: [Int32], embeddings: [Float]) {
        let features = try features(ofImage: imagePath, preprocessor: preprocessor, preprocessorFile: preprocessorFile)
        var prompt = tokens
        if !prompt.contains(config.imageTokenId) {
            prompt.insert(config.imageTokenId, at: prompt.first == bos && bos != nil ? 1 : 0)
        }
        let expanded = expand(prompt)
        return (expanded, try embed(transformer, tokens: expanded, features: features))
    }

    /// The projected features [imageTokens, textHidden] of the image file at `imagePath`, decoded and made pixels by
    /// `preprocessor` (read from `preprocessorFile`, named when its size is not the tower's).
    public func features(ofImage imagePath: String, preprocessor: ImagePreprocessor, preprocessorFile: String) throws -> [Float] {
        let (pixels, height, width) = try preprocessor.pixels(of: try RGBImage.decode(path: imagePath), file: imagePath)
        guard height == config.imageSize, width == config.imageSize else {
            throw MopError(file: preprocessorFile, "gives \(width) x \(height) pixels, the vision tower takes \(config.imageSize) x \(config.imageSize)")
        }
        return features(pixels: pixels)
    }

    /// Where a prompt's text puts its image.
    public static let marker = "<image>"

    /// The prompt of a language model whose vocabulary has no `<image>`: the text on each side of the first "<image>"
    /// encoded alone, as llama.cpp's mtmd encodes the text around its media marker, with `placeholder` between (the
    /// image's features replace it); the whole text when it has no marker (the image then goes first).
    public static func markedPrompt(_ text: String, tokenizer: any Tokenizer, placeholder: Int32, addingSpecialTokens: Bool,
                                    file: String) throws -> [Int32] {
        guard let at = text.range(of: marker) else { return tokenizer.encode(text, addingSpecialTokens: addingSpecialTokens) }
        let before = tokenizer.encode(String(text[..<at.lowerBound]), addingSpecialTokens: addingSpecialTokens)
        let after = tokenizer.encode(String(text[at.upperBound...]), addingSpecialTokens: false)
        guard !before.contains(placeholder), !after.contains(placeholder) else {
            throw MopError(file: file, "the prompt holds token \(placeholder), which marks the image's place when the vocabulary has no <image>")
        }
        return before + [placeholder] + after
    }
}
