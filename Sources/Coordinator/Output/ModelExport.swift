import Foundation
import Shared

/// Writes a pruned model in every form docs/design.md#outputs names, into a mop output directory: `structure.json`,
/// `hf/` (config.json, model.safetensors and, with a tokenizer, tokenizer.json, tokenizer_config.json and
/// generation_config.json, so the chat template and special tokens travel with the model) and `model.gguf` (`llama`
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

    /// The pruned weights (original with `structure` applied), after writing them. A type the format cannot hold
    /// is refused before any file is written.
    @discardableResult
    public static func write(original: ModelWeights, structure: PruningStructure, tokenizer: TokenizerSpec?,
                             to directory: String, format: Format, type: GGUFWriter.MatrixType) throws -> ModelWeights {
        try check(format: format, type: type, file: directory)
        // Hugging Face files of a SentencePiece tokenizer are not written yet; refused before any file is.
        if format != .gguf, tokenizer?.model == .sentencePiece {
            throw MopError(file: directory, "the model's SentencePiece tokenizer cannot be written to \(huggingFaceFolder)/ yet: "
                           + "give --format gguf")
        }
        let pruned = try structure.apply(to: original, file: directory + "/" + structureFile)
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
