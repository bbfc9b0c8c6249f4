import Foundation
import Shared

/// Writes a pruned model in every form SPEC 3 names, into a mop output directory: `structure.json`, `hf/`
/// (config.json, model.safetensors and, with a tokenizer, tokenizer.json, tokenizer_config.json and
/// generation_config.json, so the chat template and special tokens travel with the model) and `model.gguf` (`llama`
/// when the layers are uniform, `deci` when not). Each file goes to a temporary name and is renamed into place when
/// complete.
public enum ModelExport {
    public enum Format: String, CaseIterable, Codable, Sendable {
        case safetensors, gguf, both
    }

    public static let structureFile = "structure.json"
    public static let huggingFaceFolder = "hf"
    public static let ggufFile = "model.gguf"

    /// The pruned weights (original with `structure` applied), after writing them.
    @discardableResult
    public static func write(original: ModelWeights, structure: PruningStructure, tokenizer: TokenizerSpec?,
                             to directory: String, format: Format, ggufType: GGUFWriter.MatrixType) throws -> ModelWeights {
        let pruned = try structure.apply(to: original, file: directory + "/" + structureFile)
        try structure.write(to: directory + "/" + structureFile)
        if format != .gguf {
            let folder = directory + "/" + huggingFaceFolder
            let specialTokens = HFSpecialTokenIds(bos: tokenizer?.bosTokenId.map(Int.init),
                                                  eos: tokenizer?.eosTokenId.map { [Int($0)] } ?? [])
            try HFModelDirectory.write(pruned, to: folder, dtype: ggufType == .f16 ? .f16 : .f32, specialTokens: specialTokens)
            if let tokenizer { try HFModelDirectory.writeTokenizer(tokenizer, maxPositions: pruned.config.maxPositions, to: folder) }
        }
        if format != .safetensors {
            try GGUFWriter.write(weights: pruned, tokenizer: tokenizer, to: directory + "/" + ggufFile, type: ggufType)
        }
        return pruned
    }
}
