import Foundation

/// A Hugging Face model directory: `config.json` plus `model.safetensors` or a sharded
/// `model.safetensors.index.json`, and beside them the tokenizer: `tokenizer.json`, `tokenizer_config.json`
/// (chat template, special tokens) and `generation_config.json`.
public enum HFModelDirectory {
    public static let configName = "config.json"
    public static let weightsName = "model.safetensors"
    public static let indexName = "model.safetensors.index.json"
    public static let tokenizerName = "tokenizer.json"
    /// Where transformers >= 4.43 saves the chat template when tokenizer_config.json does not hold it.
    public static let chatTemplateName = "chat_template.jinja"

    /// The tokenizer file of the directory at `path`, for the tokenizer loader.
    public static func tokenizerPath(in path: String) -> String { join(path, tokenizerName) }

    /// Loads config.json and the weights (matrices held as `storage` says). A single `model.safetensors` wins over an index,
    /// as in transformers. A tensor the config does not call for is an error (TensorInventory).
    /// Tensors outside `part` (nil: the whole model) stay mapped and unchecked (`ModelPart`).
    public static func load(path: String, storage: WeightStorage = .stored, part: ModelPart? = nil) throws -> ModelWeights {
        try loadWithSpecialTokens(path: path, storage: storage, part: part).weights
    }

    /// Like `load(path:)`, also returning the special token ids config.json carries.
    public static func loadWithSpecialTokens(path: String, storage: WeightStorage = .stored, part: ModelPart? = nil) throws
        -> (weights: ModelWeights, specialTokens: HFSpecialTokenIds) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MopError(file: path, "not a model directory")
        }
        let configPath = join(path, configName)
        let configData = try RegularFile.read(configPath)
        let config = try HFConfig.parse(data: configData, file: configPath)
        let specialTokens = try HFConfig.parseSpecialTokens(data: configData, file: configPath)

        let (entries, storedSource, sourcePath) = try storedTensors(in: path)
        let stored = entries.map(\.name)
        // A LLaVA's language model is read under its family's names; its vision tower and projector are not its tensors.
        var storedNames: [String: String] = [:]
        var accounted: [(name: String, hfName: String?)] = stored.map { ($0, $0) }
        if LlavaContainer.holds(try JSONFields(data: configData, file: configPath)) {
            storedNames = try LlavaContainer.uniqueNames(stored, file: sourcePath, LlavaContainer.languageModelName(ofStored:))
            accounted = stored.filter { LlavaContainer.visionName(ofStored: $0) == nil }
                .map { ($0, LlavaContainer.languageModelName(ofStored: $0)) }
        }
        let source = { (name: String, storage: WeightStorage) in try storedSource(storedNames[name] ?? name, storage) }
        var tensors: [String: Tensor] = [:]
        for (name, _) in ModelWeights.expectedShapes(config) {
            guard part?.holds(name, config: config) ?? true else {
                tensors[name] = try source(name, .stored)
                continue
            }
            tensors[name] = try source(name, storage)
            if let tensor = tensors[name] { try TensorInventory.checkFinite(tensor, name: name, file: sourcePath) }
        }
        let weights = try ModelWeights(config: config, tensors: tensors, file: sourcePath)
        // After the missing ones (ModelWeights), so a renamed tensor is reported as missing.
        try TensorInventory.checkAccounted(accounted, config: config, file: sourcePath)
        return (weights, specialTokens)
    }

    /// The tensors the directory at `path` stores (name, type, shape), a reader of one by name (nil when absent) and
    /// the file errors name (the safetensors file or the index).
    static func storedTensors(in path: String) throws
        -> (entries: [SafetensorsEntry], read: (String, WeightStorage) throws -> Tensor?, file: String) {
        switch try weightFiles(in: path) {
        case .single(let file): (file.entries, { try file.tensor(named: $0, storage: $1) }, file.path)
        case .sharded(let index):
            // The index's tensors only, as its reader gives them.
            (index.shards.sorted { $0.key < $1.key }.flatMap { shard in shard.value.entries.filter { index.weightMap[$0.name] == shard.key } },
             { try index.tensor(named: $0, storage: $1) }, index.path)
        }
    }

    /// The weights of a directory: a single `model.safetensors` wins over an index, as in transformers.
    private enum WeightFiles {
        case single(SafetensorsFile)
        case sharded(SafetensorsIndex)
    }

    private static func weightFiles(in path: String) throws -> WeightFiles {
        let weightsPath = join(path, weightsName), indexPath = join(path, indexName)
        if FileManager.default.fileExists(atPath: weightsPath) { return .single(try SafetensorsFile(path: weightsPath)) }
        if FileManager.default.fileExists(atPath: indexPath) { return .sharded(try SafetensorsIndex(path: indexPath)) }
        throw MopError(file: path, "no \(weightsName) or \(indexName) in the model directory")
    }

    /// The element type of every stored tensor of the directory at `path`, from the safetensors headers alone.
    public static func storedTypes(in path: String) throws -> [SafetensorsDType] {
        switch try weightFiles(in: path) {
        case .single(let file): file.entries.map(\.dtype)
        case .sharded(let index): index.shards.sorted { $0.key < $1.key }.flatMap { $0.value.entries.map(\.dtype) }
        }
    }

    /// Writes config.json and model.safetensors (matrices in `dtype`, 1-D tensors F32) into `directory` (created when
    /// missing), each to a temporary name renamed into place; the weights go first, so a config.json is only ever next to complete weights.
    /// Tensors are written a panel of rows at a time. With `split`, when the tensors need more than one file: the shards
    /// `model-0000k-of-0000n.safetensors` and `model.safetensors.index.json` (written last) as transformers saves them.
    public static func write(_ weights: ModelWeights, to directory: String, dtype: SafetensorsDType = .f32,
                             specialTokens: HFSpecialTokenIds = HFSpecialTokenIds(),
                             split: SplitSize? = nil) throws {
        let tensors = try safetensorsTensors(weights, dtype: dtype, directory: directory)
        let configData = try HFConfig.encode(weights.config, specialTokens: specialTokens, dtype: dtype)
        try DirectoryCreation.create(directory)
        let parts = split?.parts(tensors.map(\.bytes)) ?? [tensors.indices]
        for shard in try beginShards(tensors, parts: parts, writing: Array(parts.indices), in: directory) { try shard.commit() }
        try writeIndex(tensors, parts: parts, in: directory)
        try writeConfig(configData, in: directory)
    }

    /// A tensor of the safetensors files: its name, its rows (made a panel at a time when written), its type.
    public struct SafetensorsTensor {
        public let name: String
        let rows: TensorRows
        let dtype: SafetensorsDType
        /// Its data bytes in the file.
        public var bytes: Int { rows.count * dtype.size }
    }

    /// The tensors `write` puts in model.safetensors or its shards, in file order: matrices in `dtype`, 1-D tensors F32.
    /// Tensors another pipeline stage holds (`Tensor(absent:)`) are listed too, and written only by their stage.
    public static func safetensorsTensors(_ weights: ModelWeights, dtype: SafetensorsDType, directory: String) throws -> [SafetensorsTensor] {
        try checkedTensors(weights, directory: directory).map { entry in
            SafetensorsTensor(name: entry.name, rows: TensorRows(entry.tensor), dtype: dtype.forTensor(shape: entry.tensor.shape))
        }
    }

    /// The files `writing` (indices into `parts`) of `tensors` cut into `parts` (ranges in file order, `SplitSize.parts`:
    /// one range is model.safetensors, more the shards `model-0000k-of-0000n.safetensors`), written into `directory`
    /// (which must exist) and returned uncommitted, to be committed once every file of the export is complete.
    public static func beginShards(_ tensors: [SafetensorsTensor], parts: [Range<Int>], writing: [Int],
                                   in directory: String) throws -> [AtomicFileWriter] {
        try writing.map { index in
            try SafetensorsWriter.begin(tensors[parts[index]].map { (name: $0.name, rows: $0.rows, dtype: $0.dtype) },
                                        to: join(directory, shardName(index, of: parts.count)))
        }
    }

    /// model.safetensors.index.json of `tensors` cut into `parts`, as transformers writes it (nothing for one part).
    public static func writeIndex(_ tensors: [SafetensorsTensor], parts: [Range<Int>], in directory: String) throws {
        guard parts.count > 1 else { return }
        var weightMap: [String: String] = [:]
        for (index, range) in parts.enumerated() {
            for tensor in tensors[range] { weightMap[tensor.name] = shardName(index, of: parts.count) }
        }
        let index: [String: Any] = ["metadata": ["total_size": tensors.reduce(0) { $0 + $1.bytes }], "weight_map": weightMap]
        try AtomicFileWriter.write(try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys]),
                                   to: join(directory, indexName))
    }

    /// config.json (`HFConfig.encode`'s `data`): written after the weights, so it only ever stands next to complete ones.
    public static func writeConfig(_ data: Data, in directory: String) throws {
        try AtomicFileWriter.write(data, to: join(directory, configName))
    }

    private static func shardName(_ index: Int, of count: Int) -> String {
        count == 1 ? weightsName : SplitSize.partName(weightsName, extension: "safetensors", index: index, of: count)
    }

    /// The tokenizer of the directory at `path`, nil without a tokenizer.model or tokenizer.json. SentencePiece's
    /// tokenizer.model, when there is one, gives the pieces, scores and types, and is preferred to tokenizer.json
    /// (see docs/formats.md#tokenizer-files); else tokenizer.json gives the vocabulary, merges and pre-tokenizer.
    /// tokenizer_config.json (or chat_template.jinja) gives the chat template and special tokens; ids still unknown
    /// come from generation_config.json, then config.json, as transformers' `generate` takes them.
    public static func readTokenizer(in path: String) throws -> TokenizerSpec? {
        let sentencePiecePath = join(path, SentencePieceModelFile.fileName)
        let tokenizerPath = tokenizerPath(in: path)
        var spec: TokenizerSpec
        if FileManager.default.fileExists(atPath: sentencePiecePath) {
            spec = try SentencePieceModelFile.read(path: sentencePiecePath)
        } else if FileManager.default.fileExists(atPath: tokenizerPath) {
            spec = try TokenizerJSON.read(path: tokenizerPath)
        } else {
            return nil
        }
        let configPath = join(path, HFTokenizerConfig.fileName)
        if let data = try contents(configPath) {
            spec = try HFTokenizerConfig.parse(data, file: configPath).applied(to: spec, file: configPath)
        }
        let templatePath = join(path, chatTemplateName)
        if spec.chatTemplate == nil, let data = try contents(templatePath) {
            spec.chatTemplate = try TextFile.decode(data, source: templatePath)
        }
        let generationPath = join(path, HFGenerationConfig.fileName)
        if let data = try contents(generationPath) {
            let generation = try HFGenerationConfig.parse(data, file: generationPath)
            try fillUnknownIds(of: &spec, from: generation, file: generationPath)
        }
        let modelConfigPath = join(path, configName)
        if let data = try contents(modelConfigPath) {
            let tokens = try HFConfig.parseSpecialTokens(data: data, file: modelConfigPath)
            try fillUnknownIds(of: &spec, from: HFGenerationConfig(tokens: tokens), file: modelConfigPath)
        }
        return spec
    }

    /// Sets the BOS, EOS and pad ids `spec` lacks to those of `ids` (EOS: the first), which must be in the vocabulary.
    private static func fillUnknownIds(of spec: inout TokenizerSpec, from ids: HFGenerationConfig, file: String) throws {
        func checked(_ id: Int?) throws -> Int32? {
            guard let id else { return nil }
            guard id < spec.vocabulary.count else {
                throw MopError(file: file, "token id \(id) is outside the vocabulary of \(spec.vocabulary.count) tokens")
            }
            return Int32(id)
        }
        spec.bosTokenId = try spec.bosTokenId ?? checked(ids.tokens.bos)
        spec.eosTokenId = try spec.eosTokenId ?? checked(ids.tokens.eos.first)
        spec.padTokenId = try spec.padTokenId ?? checked(ids.padTokenId)
    }

    /// Writes tokenizer.json; for SentencePiece ranked by piece score also tokenizer.model, which sentencepiece reads
    /// and mop reads back in preference (tokenizer.json's merges are derived from its scores); tokenizer_config.json
    /// and (when `spec` knows any id) generation_config.json into `directory`, each through a temporary name;
    /// `maxPositions` is the model's context length.
    public static func writeTokenizer(_ spec: TokenizerSpec, maxPositions: Int, to directory: String) throws {
        try TokenizerJSON.write(spec, to: tokenizerPath(in: directory))
        if spec.model == .sentencePiece && spec.mergePriority == .pieceScore {
            try SentencePieceModelFile.write(spec, to: join(directory, SentencePieceModelFile.fileName))
        }
        let configPath = join(directory, HFTokenizerConfig.fileName)
        try AtomicFileWriter.write(try HFTokenizerConfig(spec: spec, maxPositions: maxPositions, file: configPath).data(), to: configPath)
        let generation = HFGenerationConfig(spec: spec)
        if !generation.isEmpty { try AtomicFileWriter.write(generation.data(), to: join(directory, HFGenerationConfig.fileName)) }
    }

    /// The file's bytes, nil when it does not exist; anything but a regular file (a FIFO, a device) is refused.
    private static func contents(_ path: String) throws -> Data? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try RegularFile.read(path)
    }

    /// The named tensors, after checking they have the shapes the config implies: `ModelWeights` is a plain value,
    /// so a caller may have edited a layer without its config, and such a directory would not load back.
    private static func checkedTensors(_ weights: ModelWeights, directory: String) throws -> [(name: String, tensor: Tensor)] {
        try weights.config.validate(file: directory)
        guard weights.layers.count == weights.config.layers.count else {
            throw MopError(file: directory, "the weights hold \(weights.layers.count) layers, the config \(weights.config.layers.count)")
        }
        guard (weights.output == nil) == weights.config.tiedEmbeddings else {
            throw MopError(file: directory, weights.config.tiedEmbeddings
                ? "the config ties the embeddings but the weights have a separate output matrix"
                : "the config has a separate output matrix but the weights have none")
        }
        let expected = ModelWeights.expectedShapes(weights.config)
        let named = weights.namedTensors()
        for ((name, tensor), (_, shape)) in zip(named, expected) where tensor.shape != shape {
            throw MopError(file: directory, "tensor \(name) has shape \(tensor.shape), the config implies \(shape)")
        }
        return named
    }

    private static func join(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }
}
