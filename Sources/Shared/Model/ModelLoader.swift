import Foundation

/// The file formats a model can come in.
public enum ModelFormat: String, Sendable {
    case gguf
    /// A Hugging Face directory (config.json, safetensors, tokenizer.json, tokenizer_config.json), as mop also writes.
    case huggingFace = "hf"
}

/// A model ready to run: weights in the HF layout (matrices held as `WeightStorage` says) and, when the files carry one, its tokenizer.
public struct LoadedModel: Sendable {
    public let weights: ModelWeights
    public let tokenizer: TokenizerSpec?
    public let format: ModelFormat
}

/// What `mop inspect` shows, read without touching the tensor data.
public struct ModelDescription: Sendable {
    public let config: ModelConfig
    public let format: ModelFormat
    public let architecture: String
    /// How many stored tensors the file holds of each ggml type (a safetensors dtype under its ggml name), most first.
    public let tensorTypes: [(type: GGUFTensorType, count: Int)]

    init(config: ModelConfig, format: ModelFormat, architecture: String, storedTypes: [GGUFTensorType]) {
        self.config = config
        self.format = format
        self.architecture = architecture
        let counts = Dictionary(storedTypes.map { ($0, 1) }, uniquingKeysWith: +)
        tensorTypes = counts.map { (type: $0.key, count: $0.value) }
            .sorted { ($0.count, $1.type.rawValue) > ($1.count, $0.type.rawValue) }
    }
}

/// The one entry point that turns a path on the command line into a model, whatever its format.
public enum ModelLoader {
    /// A mop output directory holds `hf/` and `model.gguf` (or a split GGUF's parts) beside its reports: it stands for
    /// the model inside.
    public static func resolve(_ path: String) -> String {
        let manager = FileManager.default
        guard !manager.fileExists(atPath: path + "/config.json") else { return path }
        if manager.fileExists(atPath: path + "/hf/config.json") { return path + "/hf" }
        if let gguf = GGUFSplitKeys.file(named: "model.gguf", in: path) { return gguf }
        return path
    }

    public static func format(of path: String) throws -> ModelFormat {
        try RegularFile.requireFileOrDirectory(path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MopError(file: path, "no such file or directory")
        }
        if isDirectory.boolValue { return .huggingFace }
        let file = try MappedFile(path: path)
        guard file.count >= 4, try file.load(UInt32.self, at: 0, what: "magic") == 0x4655_4747 else {
            throw MopError(file: path, "not a GGUF file (no GGUF magic) nor a model directory")
        }
        return .gguf
    }

    /// The model at `given`, its weight matrices held as `storage` says (`--weights`); of a pipeline stage's `part`,
    /// only its tensors are checked and held (the others stay mapped, untouched).
    public static func load(path given: String, storage: WeightStorage = .stored, part: ModelPart? = nil) throws -> LoadedModel {
        let path = resolve(given)
        switch try format(of: path) {
        case .gguf:
            let (weights, tokenizer) = try GGUFModel.load(path: path, storage: storage, part: part)
            try tokenizer?.checkFits(embeddingRows: weights.config.vocabSize, file: tokenizerFile(of: path, format: .gguf))
            return LoadedModel(weights: weights, tokenizer: tokenizer, format: .gguf)
        case .huggingFace:
            let weights = try HFModelDirectory.load(path: path, storage: storage, part: part)
            let tokenizer = try HFModelDirectory.readTokenizer(in: path)
            try tokenizer?.checkFits(embeddingRows: weights.config.vocabSize, file: tokenizerFile(of: path, format: .huggingFace))
            return LoadedModel(weights: weights, tokenizer: tokenizer, format: .huggingFace)
        }
    }

    /// The tokenizer of a model file or directory without touching its weights (nil when it carries none), for any
    /// architecture: a GGUF's `tokenizer.ggml.*` metadata, or a directory's tokenizer files. Checked against the
    /// embedding rows the header states, as `load` checks it, so ids are never printed that the model cannot read.
    public static func tokenizer(path given: String) throws -> TokenizerSpec? {
        let path = resolve(given)
        switch try format(of: path) {
        case .gguf:
            // The embedding tensor's own shape, so that a GGUF of any architecture is checked.
            let file = try GGUFFile(path: path)
            guard let spec = try GGUFTokenizer.read(from: file) else { return nil }
            if let rows = file.tensors.first(where: { $0.name == "token_embd.weight" })?.shape.first {
                try spec.checkFits(embeddingRows: rows, file: path)
            }
            return spec
        case .huggingFace:
            guard let spec = try HFModelDirectory.readTokenizer(in: path) else { return nil }
            // A folder holding only tokenizer files has no embedding to check against.
            if FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("config.json")) {
                try spec.checkFits(embeddingRows: try describe(path: path).config.vocabSize,
                                   file: tokenizerFile(of: path, format: .huggingFace))
            }
            return spec
        }
    }

    /// The file the tokenizer of the model at `path` comes from: the GGUF itself, or the directory's tokenizer.json.
    private static func tokenizerFile(of path: String, format: ModelFormat) -> String {
        format == .gguf ? path : HFModelDirectory.tokenizerPath(in: path)
    }

    public static func describe(path given: String) throws -> ModelDescription {
        let path = resolve(given)
        switch try format(of: path) {
        case .gguf:
            let file = try GGUFFile(path: path)
            return ModelDescription(config: try GGUFModel.config(of: file), format: .gguf, architecture: file.architecture ?? "",
                                    storedTypes: file.tensors.map(\.type))
        case .huggingFace:
            let configPath = (path as NSString).appendingPathComponent("config.json")
            let data = try RegularFile.read(configPath)
            let config = try HFConfig.parse(data: data, file: configPath)
            return ModelDescription(config: config, format: .huggingFace, architecture: config.architecture.hfModelTypes[0],
                                    storedTypes: try HFModelDirectory.storedTypes(in: path).map(\.ggufType))
        }
    }
}
