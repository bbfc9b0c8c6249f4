import Coordinator
import Foundation
import Shared

/// One parser `mop fuzz` drives: how to build its seed inputs (from the real files where there are some) and how
/// to run one input through it. A run may throw (that is the parser doing its job); it must not trap, hang or
/// allocate without bound.
enum FuzzTarget: String, CaseIterable {
    /// GGUF header, tensor table, hyper-parameters, vocabulary and merges, tensor data.
    case gguf
    case safetensors
    case config
    case tokenizer
    /// JSONL rows: Alpaca calibration / fine-tuning rows, text rows, zero-shot task rows.
    case jsonl
    case structure
    case checkpoint
    /// A Hugging Face directory's side files: tokenizer_config.json and generation_config.json (read with the
    /// directory's tokenizer.json, as `HFModelDirectory.readTokenizer` reads them) and model.safetensors.index.json.
    case hfside
    /// latency-model.json (`--latency-model`, and the one a resumed `--target-latency` search reads back).
    case latency
    /// A tokenizer.json and a config.json against a small model's weights, as `ModelLoader.load` pairs them, then
    /// a forward pass over the ids the tokenizer gives: a tokenizer that does not fit must be refused, not trapped on.
    case pairing

    /// Seed inputs. `model` is the real GGUF (its tokenizer, config and header seed the corpora), `data` the
    /// shared data folder; missing ones are skipped. The hfside seeds also write the files its inputs are read
    /// beside (tokenizer.json, a shard) into `scratch`, which `run` is then given.
    func seeds(model: String?, data: String?, scratch: String) throws -> [[UInt8]] {
        let real = try model.map { try GGUFFile(path: $0) }
        let realConfig = try real.map { try GGUFModel.config(of: $0) }
        let tiny = Self.tiny
        let weights = ModelWeights.random(config: tiny, seed: 1)
        func bytes(_ path: String) throws -> [UInt8] { [UInt8](try RegularFile.read(path)) }
        let spec = try real.flatMap { try GGUFTokenizer.read(from: $0) }.map { Self.reduced($0, to: tiny.vocabSize) }
        switch self {
        case .gguf:
            var seeds: [[UInt8]] = []
            let path = scratch + "/seed.gguf"
            for type in GGUFWriter.MatrixType.allCases {
                try GGUFWriter.write(weights: weights, tokenizer: spec, to: path, type: type)
                seeds.append(try bytes(path))
            }
            if let model { seeds.append(Array(try bytes(model).prefix(4096))) }
            return seeds
        case .safetensors:
            let path = scratch + "/seed.safetensors"
            try SafetensorsWriter.write(weights.namedTensors(), dtype: .f32, to: path)
            let f32 = try bytes(path)
            try SafetensorsWriter.write(weights.namedTensors(), dtype: .bf16, to: path)
            return [f32, try bytes(path)]
        case .config:
            return try ([tiny] + (realConfig.map { [$0] } ?? [])).map {
                [UInt8](try HFConfig.encode($0, specialTokens: HFSpecialTokenIds(bos: 1, eos: [2, 3])))
            }
        case .tokenizer:
            return try spec.map { [[UInt8](try TokenizerJSON.data(for: $0, file: "seed"))] } ?? []
        case .jsonl:
            guard let data else { return [] }
            let files = ["instruct/alpaca.jsonl", "text/c4-sample.jsonl", "tasks/piqa.jsonl", "tasks/winogrande.jsonl", "tasks/hellaswag.jsonl"]
            return try files.map { file in
                let lines = try bytes(data + "/" + file).split(separator: UInt8(ascii: "\n")).prefix(3)
                return Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            }
        case .structure:
            // The tiny model's: a real model's lists of kept neurons make each input slow to parse, not deeper.
            let identity = PruningStructure.identity(tiny)
            let pruned = PruningStructure(originalLayers: 2, path: "LG", layers: [KeptLayer(index: 1, heads: [0], kvHeads: [0], neurons: [1, 5])])
            return [[UInt8](identity.encode()), [UInt8](pruned.encode())]
        case .checkpoint:
            let config = tiny
            let checkpoint = SearchCheckpoint(settings: try PruneSettings(target: 0.2, seed: 7), originalParameters: config.parameters,
                                              structure: .identity(config), accumulators: [Double](repeating: 0.5, count: config.layers.count),
                                              random: SeededRandom(seed: 7), records: [], inputs: Self.checkpointInputs)
            try checkpoint.write(directory: scratch)
            return [try bytes(SearchCheckpoint.path(in: scratch))]
        case .hfside:
            let directory = Self.sideDirectory(scratch), tokens = spec ?? Self.sideSpec
            try DirectoryCreation.create(directory)
            try TokenizerJSON.write(tokens, to: HFModelDirectory.tokenizerPath(in: directory))
            let shard = "model-00001-of-00001.safetensors", named = weights.namedTensors()
            try SafetensorsWriter.write(named, dtype: .bf16, to: directory + "/" + shard)
            let index: [String: Any] = ["metadata": ["total_size": 0], "weight_map": Dictionary(uniqueKeysWithValues: named.map { ($0.name, shard) })]
            return [[UInt8](try HFTokenizerConfig(spec: tokens, maxPositions: tiny.maxPositions, file: "seed").data()),
                    [UInt8](HFGenerationConfig(tokens: HFSpecialTokenIds(bos: 0, eos: [0, 1]), padTokenId: 1).data()),
                    [UInt8](try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys]))]
        case .pairing:
            let directory = Self.pairDirectory(scratch), tokens = spec ?? Self.sideSpec
            try HFModelDirectory.write(weights, to: directory)
            try TokenizerJSON.write(tokens, to: HFModelDirectory.tokenizerPath(in: directory))
            return try Self.pairedFiles.map { try bytes(directory + "/" + $0) }
        case .latency:
            let dense = LatencyModel.Sample(name: "dense", shapes: tiny.layers, seconds: 0.5, predictedSeconds: 0.49)
            let model = LatencyModel(constantSeconds: 0.1, blockSeconds: 0.01, queryHeadSeconds: 0.02, kvHeadSeconds: 0.03,
                                     neuronSeconds: 0.001, samples: [dense], promptTokens: 12, newTokens: 128)
            try LatencyModelFile.write(model, directory: scratch)
            return [try bytes(LatencyModelFile.path(in: scratch))]
        }
    }

    /// The model and calibration the checkpoint seeds were written for, and a resume asks for.
    static let checkpointInputs = SearchInputs(modelChecksum: "0123456789abcdef", calibrationChecksum: "fedcba9876543210",
                                               calibrationSamples: 128, seqLen: 512, calibrationSeed: 7)

    /// The model directory the hfside inputs are read in.
    static func sideDirectory(_ scratch: String) -> String { scratch + "/hf" }

    /// The model directory the pairing inputs are read in, and the files an input stands for in turn.
    static func pairDirectory(_ scratch: String) -> String { scratch + "/pair" }
    static let pairedFiles = ["tokenizer.json", "config.json"]

    /// The tokenizer hfside reads its inputs with when there is no real one: ChatML's special tokens and two letters.
    static let sideSpec = TokenizerSpec(vocabulary: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a"], merges: [],
                                        preTokenizer: .smollm, specialTokenIds: [0, 1, 2], bosTokenId: nil,
                                        eosTokenId: nil, addBos: false)

    /// The model the seeds are made for (and latency models are checked against).
    static let tiny = ModelConfig(vocabSize: 64, hidden: 16, headDim: 4, layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24),
                                                                                LayerShape(heads: 2, kvHeads: 1, intermediate: 8)],
                                  tiedEmbeddings: false, maxPositions: 128)

    /// The real vocabulary cut to its first `size` tokens, with the merges among them: real strings, small enough
    /// that an input parses in microseconds.
    static func reduced(_ spec: TokenizerSpec, to size: Int) -> TokenizerSpec {
        let vocabulary = Array(spec.vocabulary.prefix(size)), known = Set(vocabulary)
        let merges = spec.merges.filter { merge in
            let parts = merge.split(separator: " ").map(String.init)
            return parts.count == 2 && parts.allSatisfy(known.contains) && known.contains(parts.joined())
        }
        return TokenizerSpec(vocabulary: vocabulary, merges: merges, preTokenizer: spec.preTokenizer, specialTokenIds: [0],
                             bosTokenId: 0, eosTokenId: 0, addBos: false, chatTemplate: spec.chatTemplate)
    }

    /// Runs one input; `scratch` is a private folder for the parsers that read a path.
    func run(_ input: [UInt8], scratch: String) throws {
        let name = "fuzz-input"
        switch self {
        case .gguf:
            let file = try GGUFFile(file: MappedFile(bytes: input, path: name))
            if let spec = try GGUFTokenizer.read(from: file) { _ = try spec.tokenizer(file: name).encode("Hello, world 123!") }
            _ = try GGUFModel.weights(of: file)
        case .safetensors:
            _ = try SafetensorsFile(file: MappedFile(bytes: input, path: name)).tensors()
        case .config:
            let config = try HFConfig.parse(data: Data(input), file: name)
            _ = (config.parameters, try HFConfig.parseSpecialTokens(data: Data(input), file: name))
        case .tokenizer:
            _ = try TokenizerJSON.parse(Data(input), file: name).tokenizer(file: name).encode("Hello, world 123!")
        case .jsonl:
            let path = scratch + "/rows.jsonl"
            try Data(input).write(to: URL(fileURLWithPath: path))
            // Every reader sees the input; the first error is the input's outcome.
            let readers: [() throws -> Void] = [
                { _ = try CalibrationData.alpacaPrompts(path: path) },
                { _ = try CalibrationData.textDocuments(path: path) },
            ] + [ZeroShotTask.piqa, .winogrande, .boolq].map { task in
                { _ = try TaskData.parse(String(decoding: input, as: UTF8.self), task: task, file: path) }
            }
            var first: (any Error)?
            for reader in readers {
                do { try reader() } catch { first = first ?? error }
            }
            if let first { throw first }
        case .structure:
            let structure = try PruningStructure.decode(data: Data(input), file: name)
            _ = try? structure.validate(against: ModelConfig(vocabSize: 64, hidden: 16, headDim: 4,
                layers: [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 24), count: 2), tiedEmbeddings: true), file: name)
        case .checkpoint:
            try Data(input).write(to: URL(fileURLWithPath: SearchCheckpoint.path(in: scratch)))
            // Loaded, then resumed as `mop prune --resume` would: with the inputs the seed was written for.
            try SearchCheckpoint.load(directory: scratch).requireSameInputs(Self.checkpointInputs, file: name)
        case .hfside:
            // The input as each side file in turn, the others absent; the first error is the input's outcome.
            let directory = Self.sideDirectory(scratch)
            let readers: [(file: String, read: () throws -> Void)] = [
                (HFTokenizerConfig.fileName, { _ = try HFModelDirectory.readTokenizer(in: directory) }),
                (HFGenerationConfig.fileName, { _ = try HFModelDirectory.readTokenizer(in: directory) }),
                (HFModelDirectory.indexName, { _ = try SafetensorsIndex(path: directory + "/" + HFModelDirectory.indexName).tensors() }),
            ]
            var first: (any Error)?
            for reader in readers {
                let path = directory + "/" + reader.file
                try Data(input).write(to: URL(fileURLWithPath: path))
                defer { try? FileManager.default.removeItem(atPath: path) }
                do { try reader.read() } catch { first = first ?? error }
            }
            if let first { throw first }
        case .pairing:
            // The input as each paired file in turn, the other as seeded; the first error is the input's outcome.
            let directory = Self.pairDirectory(scratch)
            var first: (any Error)?
            for file in Self.pairedFiles {
                let path = directory + "/" + file, seeded = try RegularFile.read(path)
                try Data(input).write(to: URL(fileURLWithPath: path))
                defer { try? seeded.write(to: URL(fileURLWithPath: path)) }
                do {
                    let loaded = try ModelLoader.load(path: directory)
                    guard let spec = loaded.tokenizer else { continue }
                    let ids = try spec.tokenizer(file: name).encode("Hello <|im_start|>a 123!")
                    _ = Transformer(weights: loaded.weights).logits(Array(ids.prefix(loaded.weights.config.maxPositions)))
                } catch { first = first ?? error }
            }
            if let first { throw first }
        case .latency:
            let file = LatencyModelFile.path(in: scratch)
            try Data(input).write(to: URL(fileURLWithPath: file))
            try LatencyModelJob.check(try LatencyModelFile.read(file: file), fits: Self.tiny, file: file)
        }
    }
}
