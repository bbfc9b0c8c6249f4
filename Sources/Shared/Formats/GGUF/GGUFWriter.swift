#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a model as a GGUF v3 file that llama.cpp loads, under the GGUF name its architecture chooses for its
/// shapes (`Architecture.ggufWriteName`: the family's name, `deci` for pruned LLaMA and Qwen2 shapes, none where no
/// llama.cpp loader takes the model): scalars when every layer has
/// the same shape, else per-layer head, KV-head and feed-forward arrays. Q/K rows (and biases) are permuted into
/// adjacent-pair order where that name's RoPE needs it; 1-D tensors (norms, biases) are always F32, matrices of the
/// chosen `MatrixType` (one type, or a llama.cpp mixture: `GGUFMixture`).
public enum GGUFWriter {
    /// Writes `weights` (and `tokenizer`, when given) to `path`, through a temporary file renamed into place when complete,
    /// a panel of rows at a time (`prepare`). With `split`, the parts gguf-split would write (`<stem>-0000k-of-0000n.gguf`
    /// beside `path`) when the tensors need more than one. The paths written.
    @discardableResult
    public static func write(weights: ModelWeights, tokenizer: TokenizerSpec?, to path: String, type: MatrixType,
                             importance: [String: [Float]] = [:], padFeedForwardTo multiple: Int = 1, name: String = "mop",
                             split: SplitSize? = nil) throws -> [String] {
        try prepare(weights: weights, tokenizer: tokenizer, file: path, type: type, importance: importance,
                    padFeedForwardTo: multiple, name: name).write(to: path, split: split)
    }

    /// The GGUF export of `weights` (and `tokenizer`, when given; `file` names the output in errors), ready to write:
    /// a matrix kept as stored is decoded, converted and appended panel by panel, so writing holds one panel in fp32 and
    /// its encoding, never a whole tensor or the model. Tensors another pipeline stage holds (`Tensor(absent:)`) need
    /// only their shapes: they are in the header, and their data is written by their stage (`GGUFExport`).
    /// `importance` (HF tensor name -> one weight per column, e.g. the calibration set's mean squared inputs) drives
    /// the quantized types' encoders as llama-quantize's imatrix does; tensors without one get the reference encoders.
    /// `padFeedForwardTo` > 1 rounds every feed-forward width up to that multiple with zero neurons (`GGUFNeuronPadding`;
    /// importances are for the padded widths).
    public static func prepare(weights: ModelWeights, tokenizer: TokenizerSpec?, file path: String, type: MatrixType,
                               importance: [String: [Float]] = [:], padFeedForwardTo multiple: Int = 1,
                               name: String = "mop") throws -> GGUFExport {
        try weights.config.validate(file: path)
        let padding = GGUFNeuronPadding(config: weights.config, multiple: multiple)
        let config = padding.padded
        guard config.ropeScaling == nil else {
            throw MopError(file: path, "writing llama3 rope scaling to GGUF is not supported")
        }
        try checkShapes(weights, file: path)
        guard let ggufName = config.architecture.ggufWriteName(config) else {
            throw MopError(file: path, "no llama.cpp loader takes this \(config.architecture.name) model (layers of different widths, heads that no longer fill the hidden size, global and sliding-window layers moved, or a logit soft-cap its graph ignores; docs/formats.md#architectures); write it as Hugging Face files (--format safetensors)")
        }
        var metadata = hyperParameters(config, ggufName: ggufName, name: name, type: type)
        if let tokenizer { metadata += try GGUFTokenizer.metadata(for: tokenizer.padded(toCount: config.vocabSize), file: path) }

        let names = GGUFTensorNames(config.architecture)
        let stored = GGUFRopeOrder.convert(weights, toGGUF: true, ggufArchitecture: ggufName)
        let named = stored.namedTensors().compactMap { entry -> (hf: String, name: String, rows: TensorRows)? in
            guard let ggufName = names.gguf(fromHF: entry.name) else { return nil }
            return (entry.name, ggufName, padding.rows(TensorRows(entry.tensor), hfName: entry.name))
        }
        let types = type.tensorTypes(names: named.map(\.name), shapes: named.map(\.rows.shape), layers: config.layers.count,
                                     seventyB: isSeventyB(config), hasImportance: !importance.isEmpty)
        let tensors = zip(named, types).map { entry, type in
            GGUFTensorData(name: entry.name, rows: entry.rows, type: type, importance: importance[entry.hf])
        }
        for tensor in tensors {
            if let weights = tensor.importance, weights.count != tensor.rows.cols {
                throw MopError(file: path, "the importance of \(tensor.name) has \(weights.count) columns, the tensor \(tensor.rows.cols)")
            }
        }
        return GGUFExport(metadata: metadata, tensors: tensors, hfNames: named.map(\.hf))
    }

    /// The struct's fields are mutable, so nothing else guarantees they still agree with the config.
    private static func checkShapes(_ weights: ModelWeights, file: String) throws {
        let config = weights.config
        guard weights.layers.count == config.layers.count, (weights.output == nil) == config.tiedEmbeddings else {
            let output = weights.output == nil ? "no" : "an", tying = config.tiedEmbeddings ? "tied" : "untied"
            throw MopError(file: file, "the weights have \(weights.layers.count) layers and \(output) output matrix; the config says \(config.layers.count) layers, \(tying)")
        }
        for ((name, expected), (_, tensor)) in zip(ModelWeights.expectedShapes(config), weights.namedTensors()) where tensor.shape != expected {
            throw MopError(file: file, "tensor \(name) has shape \(tensor.shape), the config implies \(expected)")
        }
    }

    /// The types `write` gives each tensor of `weights` under `type`, by HF tensor name (`MatrixType.tensorTypes`).
    public static func tensorTypes(_ weights: ModelWeights, type: MatrixType, hasImportance: Bool) -> [String: GGUFTensorType] {
        let names = GGUFTensorNames(weights.config.architecture)
        let named = weights.namedTensors().compactMap { entry in names.gguf(fromHF: entry.name).map { (entry.name, $0, entry.tensor.shape) } }
        let types = type.tensorTypes(names: named.map(\.1), shapes: named.map(\.2), layers: weights.config.layers.count,
                                     seventyB: isSeventyB(weights.config), hasImportance: hasImportance)
        return Dictionary(uniqueKeysWithValues: zip(named.map(\.0), types))
    }

    /// llama.cpp's LLM_TYPE_70B, the one model size its mixtures look at: 80 layers, with grouped-query attention
    /// under the llama name (an 80-layer llama without it is its 65B).
    private static func isSeventyB(_ config: ModelConfig) -> Bool {
        guard config.layers.count == 80 else { return false }
        return config.architecture.ggufWriteName(config) != "llama" || config.layers[0].heads != config.layers[0].kvHeads
    }

    /// General and architecture metadata. A uniform model uses scalars, a non-uniform one per-layer INT32 arrays
    /// (the element type llama.cpp's converter writes), under the architecture's GGUF name.
    private static func hyperParameters(_ config: ModelConfig, ggufName arch: String, name: String,
                                        type: MatrixType) -> [(key: String, value: GGUFValue)] {
        let uniform = config.isUniform
        func perLayer(_ values: [Int]) -> GGUFValue {
            uniform ? .uint32(UInt32(values[0])) : .array(.int32, values.map { .int32(Int32($0)) })
        }
        typealias K = GGUFModel.Key
        let entries: [(String, GGUFValue)] = [
            (K.vocabSize, .uint32(UInt32(config.vocabSize))),
            (K.contextLength, .uint32(UInt32(config.maxPositions))),
            (K.embeddingLength, .uint32(UInt32(config.hidden))),
            (K.blockCount, .uint32(UInt32(config.layers.count))),
            (K.feedForwardLength, perLayer(config.layers.map(\.intermediate))),
            (K.headCount, perLayer(config.layers.map(\.heads))),
            (K.headCountKV, perLayer(config.layers.map(\.kvHeads))),
            (K.keyLength, .uint32(UInt32(config.headDim))),
            (K.valueLength, .uint32(UInt32(config.headDim))),
            (K.ropeDimensionCount, .uint32(UInt32(config.rotaryDimensions))),
            (K.ropeFreqBase, .float32(config.ropeTheta)),
            (config.architecture.norm.epsilonKeys.gguf, .float32(config.rmsNormEps)),
        ] + slidingWindow(config)
        return [
            ("general.architecture", .string(arch)),
            ("general.name", .string(name)),
            ("general.alignment", .uint32(UInt32(GGUFFile.defaultAlignment))),
            ("general.file_type", .uint32(type.fileType)),
        ] + entries.map { ("\(arch).\($0.0)", $0.1) }
    }
}

extension GGUFWriter {
    /// The window and local RoPE base of a model whose sliding layers follow its family's period (the writer was
    /// given the family's name only then); nothing for a model whose layers all attend globally.
    fileprivate static func slidingWindow(_ config: ModelConfig) -> [(String, GGUFValue)] {
        guard let local = config.layers.indices.map({ config.attention(layer: $0) }).first(where: { $0.window != nil }),
              let window = local.window else { return [] }
        return [(GGUFModel.Key.slidingWindow, .uint32(UInt32(window))),
                (GGUFModel.Key.ropeFreqBaseSlidingWindow, .float32(local.ropeTheta))]
    }
}

/// Little-endian serialization of GGUF header fields into a byte buffer (tensor data: `GGUFQuantize`).
struct GGUFByteWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }

    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u64(UInt64(utf8.count))
        bytes += utf8
    }

    mutating func pad(to length: Int) {
        if bytes.count < length { bytes += [UInt8](repeating: 0, count: length - bytes.count) }
    }

    mutating func value(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): bytes.append(v)
        case .int8(let v): bytes.append(UInt8(bitPattern: v))
        case .uint16(let v): withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        case .int16(let v): withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        case .uint32(let v): u32(v)
        case .int32(let v): u32(UInt32(bitPattern: v))
        case .uint64(let v): u64(v)
        case .int64(let v): u64(UInt64(bitPattern: v))
        case .float32(let v): u32(v.bitPattern)
        case .float64(let v): u64(v.bitPattern)
        case .bool(let v): bytes.append(v ? 1 : 0)
        case .string(let v): string(v)
        case .array(let elementType, let elements):
            u32(elementType.rawValue)
            u64(UInt64(elements.count))
            for element in elements { self.value(element) }
        }
    }
}
