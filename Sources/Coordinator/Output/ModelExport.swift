import Foundation
import Shared

/// Writes a pruned model in every form docs/design.md#outputs names, into a mop output directory: `structure.json`,
/// `hf/` (config.json, model.safetensors and, with a tokenizer, tokenizer.json or SentencePiece's tokenizer.model,
/// tokenizer_config.json and generation_config.json, so the chat template and special tokens travel with the model) and `model.gguf` (`llama`
/// when the layers are uniform, `deci` when not), matrices in one `GGUFWriter.MatrixType` (`--export-type`: one type or
/// a llama.cpp mixture; the safetensors copy of a block type is f16). Each file goes to a temporary name and is
/// renamed into place when complete.
public enum ModelExport {
    public enum Format: String, CaseIterable, Codable, Sendable {
        case safetensors, gguf, both
    }

    public static let structureFile = "structure.json"
    public static let huggingFaceFolder = "hf"
    public static let ggufFile = "model.gguf"

    /// The safetensors type of the HF folder for matrices of `type`: the type itself for f32, f16 and bf16; f16 for a
    /// GGUF block type or mixture, which safetensors cannot hold (f16 keeps the 11 significant bits a 4- to 8-bit
    /// block's value has after its fp16 scale, where bf16 keeps 8).
    public static func safetensorsDType(_ type: GGUFWriter.MatrixType) -> SafetensorsDType {
        SafetensorsDType(ggufType: type.tensorType) ?? .f16
    }

    /// Refuses a block type asked for (`--export-type`) with safetensors alone (`file` names the output in the error):
    /// nothing would be written in the type asked for.
    public static func check(format: Format, type: GGUFWriter.MatrixType, file: String? = nil) throws {
        guard format == .safetensors && type.isQuantized else { return }
        throw MopError(file: file, "--export-type \(type.rawValue) is a GGUF type (safetensors holds f32, f16 or bf16): give --format gguf or both")
    }

    /// Refuses weights whose values the files would not hold: f16 (the `f16` type, the safetensors copy of a block
    /// type, and the fallback of a matrix whose rows are not whole blocks) ends at 65504, and a block's f16 scale at
    /// a multiple of that (`largest`), so a larger value would be written as infinity and the export refused by mop
    /// itself. Tensors this rank does not hold (`Tensor(absent:)`) are left to their stage. `file` names the output; `hasImportance`: the GGUF will be written with an importance (which changes
    /// some types of q4_0 and q5_0).
    public static func checkRange(_ weights: ModelWeights, format: Format, type: GGUFWriter.MatrixType, file: String,
                                  hasImportance: Bool = false) throws {
        let ggufTypes = format == .safetensors ? [:] : GGUFWriter.tensorTypes(weights, type: type, hasImportance: hasImportance)
        // Another pipeline stage's tensors are its to check.
        for (name, tensor) in weights.namedTensors() where !tensor.isAbsent {
            var written: [GGUFTensorType] = []
            if format != .gguf { written.append(safetensorsDType(type).forTensor(shape: tensor.shape).ggufType) }
            if let gguf = ggufTypes[name] { written.append(gguf) }
            guard let (limit, limited) = written.compactMap({ t in largest(t).map { ($0, t) } }).min(by: { $0.0 < $1.0 }) else { continue }
            var bad: (value: Float, index: Int)?
            TensorRows(tensor).forEachPanel { values, firstRow in
                guard bad == nil, let index = values.firstIndex(where: { abs($0) > limit }) else { return }
                bad = (values[index], firstRow * tensor.cols + index)
            }
            guard let bad else { continue }
            throw MopError(file: file, "tensor \(PrintableText.quote(name)) holds \(bad.value) at element \(bad.index), beyond \(limited.name)'s largest \(limit): give --export-type bf16 or f32")
        }
    }

    /// The multiple a GGUF's feed-forward widths are padded to: a block type's rows must be whole blocks, so zero
    /// neurons keep the down projections in it (`GGUFNeuronPadding`), unless `exactWidths`.
    static func paddingMultiple(type: GGUFWriter.MatrixType, exactWidths: Bool) -> Int {
        type.isQuantized && !exactWidths ? 32 : 1
    }

    /// The special token ids config.json carries for `tokenizer`.
    static func specialTokens(_ tokenizer: TokenizerSpec?) -> HFSpecialTokenIds {
        HFSpecialTokenIds(bos: tokenizer?.bosTokenId.map(Int.init), eos: tokenizer?.eosTokenId.map { [Int($0)] } ?? [])
    }

    /// The refusal of a GGUF for a pruned model no llama.cpp loader takes (`file` names the output).
    static func noLlamaCppLoader(_ config: ModelConfig, file: String) -> MopError {
        MopError(file: file, "no llama.cpp loader takes this pruned \(config.architecture.name) model (layers of different widths, heads that no longer fill the hidden size, global and sliding-window layers moved, or a logit soft-cap its graph ignores; docs/formats.md#architectures): give --format safetensors")
    }

    /// `importance` with the down projections' rows extended by zeros as `GGUFNeuronPadding` extends their columns.
    static func padded(_ importance: [String: [Float]], toMultipleOf multiple: Int) -> [String: [Float]] {
        importance.mapValues { $0.count % multiple == 0 ? $0 : $0 + [Float](repeating: 0, count: multiple - $0.count % multiple) }
    }

    /// The largest magnitude `type` holds finitely, for the types below fp32's range (nil for the others): f16's
    /// 65504 times what its f16 scales multiply (Q4_1 and Q5_1 store the block's min itself as f16, the K-quants
    /// multiply their 6-bit mins by an f16 dmin, Q6_K its int8 scales by d).
    private static func largest(_ type: GGUFTensorType) -> Float? {
        let half = Float(Float16.greatestFiniteMagnitude)
        switch type {
        case .f16, .q4_1, .q5_1: return half
        case .q4_0: return half * 8
        case .q5_0: return half * 16
        case .q4_K, .q5_K: return half * 63
        case .q8_0, .q6_K: return half * 127
        default: return nil
        }
    }

    /// The pruned weights (original with `structure` applied: views of the stored bytes where the original is kept
    /// as stored; a merged LoRA adapter stays factored beside them, `Tensor(stored:adding:)`), after writing them a panel
    /// of rows at a time, so neither the pruned nor a merged model is ever held in fp32. `split`: files of at most
    /// that much tensor data (sharded safetensors, a split GGUF), when the model needs more than one. A type the format cannot
    /// hold, or values it cannot hold (`checkRange`), are refused before any file is written.
    @discardableResult
    public static func write(original: ModelWeights, structure: PruningStructure, tokenizer: TokenizerSpec?,
                             to directory: String, format: Format, type: GGUFWriter.MatrixType,
                             importance: [String: [Float]] = [:], exactWidths: Bool = false,
                             split: SplitSize? = nil) throws -> ModelWeights {
        try check(format: format, type: type, file: directory)
        let pruned = try structure.apply(to: original, file: directory + "/" + structureFile)
        try checkRange(pruned, format: format, type: type, file: directory, hasImportance: !importance.isEmpty)
        if format != .safetensors, pruned.config.architecture.ggufWriteName(pruned.config) == nil {
            throw noLlamaCppLoader(pruned.config, file: directory)
        }
        try structure.write(to: directory + "/" + structureFile)
        if format != .gguf {
            let dtype = safetensorsDType(type)
            let folder = directory + "/" + huggingFaceFolder
            try HFModelDirectory.write(pruned, to: folder, dtype: dtype, specialTokens: specialTokens(tokenizer), split: split)
            if let tokenizer { try HFModelDirectory.writeTokenizer(tokenizer, maxPositions: pruned.config.maxPositions, to: folder) }
        }
        if format != .safetensors {
            let blocks = paddingMultiple(type: type, exactWidths: exactWidths)
            try GGUFWriter.write(weights: pruned, tokenizer: tokenizer, to: directory + "/" + ggufFile, type: type,
                                 importance: padded(importance, toMultipleOf: blocks), padFeedForwardTo: blocks, split: split)
        }
        return pruned
    }
}
