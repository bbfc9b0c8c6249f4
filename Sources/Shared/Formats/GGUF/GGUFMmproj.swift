/// llama.cpp's `mmproj` GGUF of a LLaVA-1.5: the CLIP vision tower (`v.*`) and the 2-layer projector (`mm.0`, `mm.2`)
/// beside a language-model GGUF, `general.architecture` `clip`, as tools/mtmd/legacy-models/
/// convert_image_encoder_to_gguf.py writes it (every LLaVA-1.5 mmproj in use comes from it):
///
/// - only the layers the features come from: `clip.vision.block_count` is the feature layer, the last layer and the
///   final LayerNorm are dropped (so mop runs every stored layer, as transformers' `vision_feature_layer` -2 does;
///   llama.cpp's mtmd runs one fewer, its issue 25817);
/// - fc1 stored as `ffn_down` and fc2 as `ffn_up`; clip.cpp swaps them back when `ffn_down` has rows of the hidden
///   size, and so does this reader, so a file with them the right way round reads the same;
/// - the patch convolution and the projector's matrices in f16 always, the other matrices in f16 or f32, vectors in f32.
public enum GGUFMmproj {
    static let architecture = "clip"
    /// The name mop gives the file beside the language model's `model.gguf`.
    public static let fileName = "mmproj.gguf"
    /// The colour llama.cpp fills around a letterboxed image for LLaVA (clip.cpp's image_pad_color, mlp projector).
    static let padColor: [UInt8] = [122, 116, 104]

    enum Key {
        static let hasVision = "clip.has_vision_encoder", hasProjector = "clip.has_llava_projector"
        static let projectorType = "clip.projector_type", useGelu = "clip.use_gelu", useSilu = "clip.use_silu"
        static let hidden = "clip.vision.embedding_length", intermediate = "clip.vision.feed_forward_length"
        static let heads = "clip.vision.attention.head_count", blocks = "clip.vision.block_count"
        static let eps = "clip.vision.attention.layer_norm_epsilon", projectionDim = "clip.vision.projection_dim"
        static let imageSize = "clip.vision.image_size", patchSize = "clip.vision.patch_size"
        static let featureLayer = "clip.vision.feature_layer"
        static let mean = "clip.vision.image_mean", std = "clip.vision.image_std"
    }

    /// The vision tower and projector of the mmproj at `path`, for the language model `text` whose `<image>` token is
    /// `imageTokenId`, and llama.cpp's preprocessing of an image for it (letterboxed, the file's mean and deviation).
    /// Every tensor the layers need must be there with its shape, and none other.
    public static func read(path: String, text: ModelConfig, imageTokenId: Int32) throws -> (vision: LlavaVision, preprocessor: ImagePreprocessor) {
        let file = try GGUFFile(path: path)
        let config = try config(of: file, text: text, imageTokenId: imageTokenId)
        // clip.cpp's test for fc1 stored as ffn_down: its rows have the hidden size.
        let legacy = file.tensor(named: "v.blk.0.ffn_down.weight").map { $0.dimensions[0] == config.hidden } ?? true
        var tensors: [String: Tensor] = [:], expected = Set<String>()
        for (name, shape) in config.tensorShapes {
            let stored = ggufName(name, legacyFeedForward: legacy)
            expected.insert(stored)
            guard let info = file.tensor(named: stored) else {
                throw MopError(file: path, "missing tensor \(stored) (the vision tower's \(name))")
            }
            guard info.shape == shape else {
                throw MopError(file: path, "tensor \(stored) has shape \(info.shape), the clip.vision keys imply \(shape)")
            }
            let tensor = try file.dequantize(info)
            try TensorInventory.checkFinite(tensor, name: stored, file: path)
            tensors[name] = tensor
        }
        // llama.cpp's mtmd skips the final LayerNorm of a LLaVA tower if the file has it; so does this reader.
        let ignored: Set<String> = ["v.post_ln.weight", "v.post_ln.bias"]
        let extra = file.tensors.map(\.name).filter { !expected.contains($0) && !ignored.contains($0) }
        guard extra.isEmpty else {
            throw MopError(file: path, "holds \(extra.count) tensors a LLaVA-1.5 mmproj of \(config.layers) layers does not (\(extra.prefix(3).map { PrintableText.quote($0) }.joined(separator: ", "))): LLaVA-1.6, Yi-VL and MobileVLM towers are not supported")
        }
        let mean = try floats(file, Key.mean), std = try floats(file, Key.std)
        guard std.allSatisfy({ $0 > 0 }) else { throw MopError(file: path, "\(Key.std) must be positive") }
        return (LlavaVision(config: config, tensors: tensors),
                ImagePreprocessor(letterboxTo: config.imageSize, fill: padColor, mean: mean, std: std))
    }

    /// Refuses, naming the file, an mmproj at `path` that is not LLaVA-1.5's for the language model `text`, from its
    /// header alone.
    public static func check(path: String, text: ModelConfig) throws {
        _ = try config(of: try GGUFFile(path: path), text: text, imageTokenId: 0)
    }

    /// A byte-for-byte copy of the mmproj at `source`, written to `path` through a temporary file.
    public static func copy(_ source: String, to path: String) throws {
        let mapped = try MappedFile(path: source)
        let output = try AtomicFileWriter(path: path)
        var offset = 0
        while offset < mapped.count {
            let length = min(1 << 24, mapped.count - offset)
            try output.append(try mapped.bytes(at: offset, length: length, what: "mmproj bytes"))
            offset += length
        }
        try output.commit()
    }

    /// The tower's shape from the file's clip.* keys; the projector's width from `mm.2.weight`, which must be the
    /// language model's hidden size.
    static func config(of file: GGUFFile, text: ModelConfig, imageTokenId: Int32) throws -> LlavaVision.Config {
        func fail(_ problem: String) -> MopError { MopError(file: file.path, problem) }
        guard file.architecture == architecture else {
            throw fail("general.architecture is \(file.architecture.map { PrintableText.quote($0) } ?? "missing"), an mmproj file's is \"clip\"")
        }
        guard file.metadata[Key.hasVision]?.bool ?? true else { throw fail("has no vision encoder (\(Key.hasVision) false)") }
        let projector = file.metadata[Key.projectorType]?.string ?? "mlp"
        guard projector == "mlp", file.metadata[Key.hasProjector]?.bool ?? true else {
            throw fail("projector \(PrintableText.quote(projector)) is not LLaVA-1.5's 2-layer mlp")
        }
        func int(_ key: String, in range: ClosedRange<Int> = 1...ModelConfig.maxDimension) throws -> Int {
            guard let value = file.metadata[key] else { throw fail("\(key) is missing") }
            guard let n = value.int, range.contains(n) else { throw fail("\(key) \(value.summary) is not an integer in \(range)") }
            return n
        }
        let hidden = try int(Key.hidden), heads = try int(Key.heads, in: 1...ModelConfig.maxHeads)
        let blocks = try int(Key.blocks, in: 1...ModelConfig.maxLayers)
        let imageSize = try int(Key.imageSize, in: 1...8192), patchSize = try int(Key.patchSize, in: 1...imageSize)
        guard hidden % heads == 0, imageSize % patchSize == 0 else {
            throw fail("\(Key.hidden) \(hidden) over \(heads) heads or \(Key.imageSize) \(imageSize) over \(Key.patchSize) \(patchSize) does not divide")
        }
        guard let eps = file.metadata[Key.eps]?.double, eps > 0, eps < 1 else { throw fail("\(Key.eps) is missing or not in (0, 1)") }
        guard !(file.metadata[Key.useSilu]?.bool ?? false) else { throw fail("\(Key.useSilu): a SiLU tower is not LLaVA-1.5's") }
        // clip.cpp's FFN_GELU for use_gelu, its quick GELU otherwise.
        let activation: Activation = file.metadata[Key.useGelu]?.bool ?? false ? .geluErf : .quickGelu
        var featureLayers = blocks
        if let layers = file.metadata[Key.featureLayer] {
            guard let list = layers.array, list.count == 1, let layer = list[0].int, (1...blocks).contains(layer) else {
                throw fail("\(Key.featureLayer) \(layers.summary) is not one layer in 1...\(blocks) (several feature layers are not supported)")
            }
            featureLayers = layer
        }
        guard let projection = file.tensor(named: "mm.2.weight"), projection.shape.count == 2 else { throw fail("missing tensor mm.2.weight") }
        guard projection.shape[0] == text.hidden else {
            throw fail("the projector gives \(projection.shape[0]) features per image token, the language model's hidden size is \(text.hidden)")
        }
        guard let patch = file.tensor(named: "v.patch_embd.weight"), patch.shape.count == 4 else {
            throw fail("missing tensor v.patch_embd.weight (a 4-dimensional convolution)")
        }
        return LlavaVision.Config(
            hidden: hidden, intermediate: try int(Key.intermediate), layers: blocks, heads: heads, imageSize: imageSize,
            patchSize: patchSize, channels: patch.shape[1], eps: Float(eps), activation: activation,
            featureLayers: featureLayers, projectorBias: file.tensor(named: "mm.0.bias") != nil,
            imageTokenId: imageTokenId, textHidden: text.hidden)
    }

    private static func floats(_ file: GGUFFile, _ key: String) throws -> [Float] {
        guard let values = file.metadata[key]?.array?.compactMap(\.double), values.count == 3, values.allSatisfy(\.isFinite) else {
            throw MopError(file: file.path, "\(key) must list 3 numbers (one per channel)")
        }
        return values.map(Float.init)
    }

    /// The mmproj name of a tensor of the vision table (`LlavaContainer.visionName`): the converter's renaming.
    static func ggufName(_ name: String, legacyFeedForward: Bool) -> String {
        let (fc1, fc2) = legacyFeedForward ? ("ffn_down.", "ffn_up.") : ("ffn_up.", "ffn_down.")
        let layerParts = [("self_attn.q_proj.", "attn_q."), ("self_attn.k_proj.", "attn_k."), ("self_attn.v_proj.", "attn_v."),
                          ("self_attn.out_proj.", "attn_out."), ("layer_norm1.", "ln1."), ("layer_norm2.", "ln2."),
                          ("mlp.fc1.", fc1), ("mlp.fc2.", fc2)]
        let layers = "vision_tower.encoder.layers."
        if name.hasPrefix(layers) {
            let rest = name.dropFirst(layers.count), index = rest.prefix { $0 != "." }, part = rest.dropFirst(index.count + 1)
            for (from, to) in layerParts where part.hasPrefix(from) { return "v.blk.\(index).\(to)\(part.dropFirst(from.count))" }
        }
        let whole = [("vision_tower.embeddings.class_embedding", "v.class_embd"),
                     ("vision_tower.embeddings.patch_embedding.", "v.patch_embd."),
                     ("vision_tower.embeddings.position_embedding.", "v.position_embd."),
                     ("vision_tower.pre_layrnorm.", "v.pre_ln."), ("vision_tower.post_layernorm.", "v.post_ln."),
                     ("multi_modal_projector.linear_1.", "mm.0."), ("multi_modal_projector.linear_2.", "mm.2.")]
        for (from, to) in whole where name.hasPrefix(from) { return to + name.dropFirst(from.count) }
        return name
    }

    /// Writes the layers `vision` computes its features with, and its projector, as an mmproj file in the converter's
    /// layout (matrices and the convolution f16, vectors f32) with the mean and deviation `preprocessor` normalises by,
    /// for llama.cpp's mtmd to load beside the language model's GGUF.
    public static func write(_ vision: LlavaVision, mean: [Float], std: [Float], name: String, to path: String) throws {
        let c = vision.config
        let used = LlavaVision.Config(
            hidden: c.hidden, intermediate: c.intermediate, layers: c.featureLayers, heads: c.heads, imageSize: c.imageSize,
            patchSize: c.patchSize, channels: c.channels, eps: c.eps, activation: c.activation, featureLayers: c.featureLayers,
            projectorBias: c.projectorBias, imageTokenId: c.imageTokenId, textHidden: c.textHidden)
        guard !c.keepsClassToken, c.activation == .quickGelu || c.activation == .geluErf, c.projectorActivation == .geluErf else {
            throw MopError(file: path, "llama.cpp's LLaVA graph takes a quick-GELU or GELU tower without the CLS row and a GELU projector")
        }
        let tensors = try used.tensorShapes.map { entry -> GGUFTensorData in
            guard let tensor = vision.tensors[entry.name] else { throw MopError(file: path, "tensor \(entry.name) is missing") }
            return GGUFTensorData(name: ggufName(entry.name, legacyFeedForward: true), rows: TensorRows(tensor),
                                  type: entry.shape.count >= 2 ? .f16 : .f32, importance: nil)
        }
        func u32(_ n: Int) -> GGUFValue { .uint32(UInt32(n)) }
        func floats(_ values: [Float]) -> GGUFValue { .array(.float32, values.map { .float32($0) }) }
        let metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(architecture)), ("clip.has_text_encoder", .bool(false)),
            (Key.hasVision, .bool(true)), (Key.hasProjector, .bool(true)), ("general.file_type", u32(1)),
            ("general.name", .string(name)), ("general.description", .string("image encoder for LLaVA")),
            (Key.projectorType, .string("mlp")), (Key.imageSize, u32(c.imageSize)), (Key.patchSize, u32(c.patchSize)),
            (Key.hidden, u32(c.hidden)), (Key.intermediate, u32(c.intermediate)), (Key.projectionDim, u32(0)),
            (Key.heads, u32(c.heads)), (Key.eps, .float32(c.eps)), (Key.blocks, u32(c.featureLayers)),
            (Key.mean, floats(mean)), (Key.std, floats(std)), (Key.useGelu, .bool(c.activation == .geluErf)),
        ]
        try GGUFFileWriter.write(metadata: metadata, tensors: tensors, to: path)
    }
}
