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
    /// A mop output directory holds `hf/` and `model.gguf` beside its reports: it stands for the model inside.
    public static func resolve(_ path: String) -> String {
        let manager = FileManager.default
        guard !manager.fileExists(atPath: path + "/config.json") else { return path }
        if manager.fileExists(atPath: path + "/hf/config.json") { return path + "/hf" }
        if manager.fileExists(atPath: path + "/model.gguf") { return path + "/model.gguf" }
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
            return LoadedModel(weights: weights, tokenizer: tokenizer, format: .gguf)
        case .huggingFace:
            let weights = try HFModelDirectory.load(path: path, storage: storage, part: part)
            let tokenizer = try HFModelDirectory.readTokenizer(in: path)
            return LoadedModel(weights: weights, tokenizer: tokenizer, format: .huggingFace)
        }
    }

    /// The tokenizer of a model file or directory without touching its weights (nil when it carries none), for any
    /// architecture: a GGUF's `tokenizer.ggml.*` metadata, or a directory's tokenizer files.
    public static func tokenizer(path given: String) throws -> TokenizerSpec? {
        let path = resolve(given)
        switch try format(of: path) {
        case .gguf: return try GGUFTokenizer.read(from: try GGUFFile(path: path))
        case .huggingFace: return try HFModelDirectory.readTokenizer(in: path)
        }
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
