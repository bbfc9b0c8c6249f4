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

    /// Seed inputs. `model` is the real GGUF (its tokenizer, config and header seed the corpora), `data` the
    /// shared data folder; missing ones are skipped.
    func seeds(model: String?, data: String?, scratch: String) throws -> [[UInt8]] {
        let real = try model.map { try GGUFFile(path: $0) }
        let realConfig = try real.map { try GGUFModel.config(of: $0) }
        let tiny = ModelConfig(vocabSize: 64, hidden: 16, headDim: 4, layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24),
                                                                                 LayerShape(heads: 2, kvHeads: 1, intermediate: 8)],
                               tiedEmbeddings: false, maxPositions: 128)
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
                                              random: SeededRandom(seed: 7), records: [])
            try checkpoint.write(directory: scratch)
            return [try bytes(SearchCheckpoint.path(in: scratch))]
        }
    }

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
            if let spec = try GGUFTokenizer.read(from: file) { _ = try BPETokenizer(spec, file: name).encode("Hello, world 123!") }
            _ = try GGUFModel.weights(of: file)
        case .safetensors:
            _ = try SafetensorsFile(file: MappedFile(bytes: input, path: name)).tensors()
        case .config:
            let config = try HFConfig.parse(data: Data(input), file: name)
            _ = (config.parameters, try HFConfig.parseSpecialTokens(data: Data(input), file: name))
        case .tokenizer:
            _ = try BPETokenizer(try TokenizerJSON.parse(Data(input), file: name), file: name).encode("Hello, world 123!")
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
            _ = try SearchCheckpoint.load(directory: scratch)
        }
    }
}
