import Foundation
import Shared

/// Writes a pruned model in every form docs/design.md#outputs names, into a mop output directory: `structure.json`,
/// `hf/` (config.json, model.safetensors and, with a tokenizer, tokenizer.json or SentencePiece's tokenizer.model,
/// tokenizer_config.json and generation_config.json, so the chat template and special tokens travel with the model) and `model.gguf` (`llama`
/// when the layers are uniform, `deci` when not), matrices in one `GGUFWriter.MatrixType` (`--export-type`). Each file
/// goes to a temporary name and is renamed into place when complete.
public enum ModelExport {
    public enum Format: String, CaseIterable, Codable, Sendable {
        case safetensors, gguf, both
    }

    public static let structureFile = "structure.json"
    public static let huggingFaceFolder = "hf"
    public static let ggufFile = "model.gguf"

    /// The safetensors type of the HF folder for matrices of `type`; nil for a GGUF block quantization (Q8_0).
    public static func safetensorsDType(_ type: GGUFWriter.MatrixType) -> SafetensorsDType? {
        SafetensorsDType(ggufType: type.tensorType)
    }

    /// Refuses a matrix type that `format` cannot hold (`file` names the output in the error): safetensors has no
    /// Q8_0, and writing another type instead would hand over a model other than the one asked for.
    public static func check(format: Format, type: GGUFWriter.MatrixType, file: String? = nil) throws {
        guard format == .gguf || safetensorsDType(type) != nil else {
            throw MopError(file: file, "--export-type \(type.rawValue) is a GGUF type (safetensors holds f32, f16 or bf16): give --format gguf")
        }
    }

    /// Refuses weights whose values the files would not hold: f16 (the `f16` type, and the fallback of a `q8_0`
    /// matrix whose rows are not whole blocks) ends at 65504 and a Q8_0 block's f16 scale at 127 times that, so a
    /// larger value would be written as infinity and the export refused by mop itself. `file` names the output.
    public static func checkRange(_ weights: ModelWeights, format: Format, type: GGUFWriter.MatrixType, file: String) throws {
        for (name, tensor) in weights.namedTensors() {
            var written: [GGUFTensorType] = []
            if format != .gguf, let dtype = safetensorsDType(type) { written.append(dtype.forTensor(shape: tensor.shape).ggufType) }
            if format != .safetensors { written.append(type.tensorType(shape: tensor.shape)) }
            guard let (limit, limited) = written.compactMap({ t in largest(t).map { ($0, t) } }).min(by: { $0.0 < $1.0 }) else { continue }
            var bad: (value: Float, index: Int)?
            tensor.forEachRowPanel(rows: tensor.panelRows()) { values, firstRow in
                guard bad == nil, let index = values.firstIndex(where: { abs($0) > limit }) else { return }
                bad = (values[index], firstRow * tensor.cols + index)
            }
            guard let bad else { continue }
            throw MopError(file: file, "tensor \(PrintableText.quote(name)) holds \(bad.value) at element \(bad.index), beyond \(limited.name)'s largest \(limit): give --export-type bf16 or f32")
        }
    }

    /// The largest magnitude `type` holds finitely, for the types below fp32's range (nil for the others).
    private static func largest(_ type: GGUFTensorType) -> Float? {
        switch type {
        case .f16: Float(Float16.greatestFiniteMagnitude)
        case .q8_0: Float(Float16.greatestFiniteMagnitude) * 127
        default: nil
        }
    }

    /// The pruned weights (original with `structure` applied), after writing them. A type the format cannot hold,
    /// or values it cannot hold (`checkRange`), are refused before any file is written.
    @discardableResult
    public static func write(original: ModelWeights, structure: PruningStructure, tokenizer: TokenizerSpec?,
                             to directory: String, format: Format, type: GGUFWriter.MatrixType) throws -> ModelWeights {
        try check(format: format, type: type, file: directory)
        let pruned = try structure.apply(to: original, file: directory + "/" + structureFile)
        try checkRange(pruned, format: format, type: type, file: directory)
        if format != .safetensors, pruned.config.architecture.ggufWriteName(pruned.config) == nil {
            throw MopError(file: directory, "no llama.cpp loader takes this pruned \(pruned.config.architecture.name) model (layers of different widths, heads that no longer fill the hidden size, or global and sliding-window layers moved; docs/formats.md#architectures): give --format safetensors")
        }
        try structure.write(to: directory + "/" + structureFile)
        if format != .gguf, let dtype = safetensorsDType(type) {
            let folder = directory + "/" + huggingFaceFolder
            let specialTokens = HFSpecialTokenIds(bos: tokenizer?.bosTokenId.map(Int.init),
                                                  eos: tokenizer?.eosTokenId.map { [Int($0)] } ?? [])
            try HFModelDirectory.write(pruned, to: folder, dtype: dtype, specialTokens: specialTokens)
            if let tokenizer { try HFModelDirectory.writeTokenizer(tokenizer, maxPositions: pruned.config.maxPositions, to: folder) }
        }
        if format != .safetensors {
            try GGUFWriter.write(weights: pruned, tokenizer: tokenizer, to: directory + "/" + ggufFile, type: type)
        }
        return pruned
    }
}
