import Foundation
import Shared

/// The export type a job writes, and why: the one `--export-type` names, else the input model's own, so a pruned
/// model is stored as the model it came from (and their latencies compare like with like):
/// - a GGUF input: the export type its `general.file_type` names (Q4_K_M in, Q4_K_M out; Q4_1 in, Q4_1 out; F16 in,
///   F16 out). A file type mop does not write (Q2_K, the Q3_K mixtures, i-quants) or none at all: from the type
///   holding most of the matrices' elements, the K-quants below Q4_K rounded up to q4_k_m;
/// - a Hugging Face directory: the dtype most of its tensors are stored in (bf16, f16 or f32).
public struct ExportTypeChoice: Sendable, Equatable {
    public let type: GGUFWriter.MatrixType
    /// What chose it, for the report: "--export-type", or what of the input.
    public let reason: String

    public init(type: GGUFWriter.MatrixType, reason: String) {
        self.type = type
        self.reason = reason
    }

    /// The input's own export type for the model at `path` (a GGUF file, a Hugging Face directory or a mop output
    /// directory, whose `model.gguf` (or split GGUF) holds the types it was written in: its `hf/` copy of a block type is F16), from
    /// its headers only.
    public static func matching(modelAt path: String) throws -> ExportTypeChoice {
        let resolved = GGUFSplitKeys.file(named: ModelExport.ggufFile, in: path) ?? ModelLoader.resolve(path)
        switch try ModelLoader.format(of: resolved) {
        case .gguf:
            let file = try GGUFFile(path: resolved)
            if let code = file.metadata["general.file_type"]?.int, code >= 0, let type = GGUFWriter.MatrixType(fileType: UInt32(code)) {
                return ExportTypeChoice(type: type, reason: "the input's general.file_type \(code)")
            }
            let matrices = file.tensors.filter { $0.dimensions.count > 1 && $0.name != "token_embd.weight" && $0.name != "output.weight" }
            let elements = Dictionary(matrices.map { ($0.type, $0.elementCount) }, uniquingKeysWith: +)
            guard let (stored, _) = elements.max(by: { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }) else {
                return ExportTypeChoice(type: .f32, reason: "the input holds no matrices")
            }
            return ExportTypeChoice(type: exportType(storing: stored), reason: "most of the input's matrix elements are \(stored.name)")
        case .huggingFace:
            let stored = try HFModelDirectory.storedTypes(in: resolved)
            let counts = Dictionary(stored.filter { $0 != .f32 }.map { ($0, 1) }, uniquingKeysWith: +)
            let dtype = counts.max(by: { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) })?.key ?? .f32
            let type: GGUFWriter.MatrixType = switch dtype {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
            return ExportTypeChoice(type: type, reason: "the input's safetensors are \(dtype.ggufType.name)")
        }
    }

    /// The export type whose base type is, or is nearest above, `stored`.
    static func exportType(storing stored: GGUFTensorType) -> GGUFWriter.MatrixType {
        switch stored {
        case .f16: .f16
        case .bf16: .bf16
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        case .q5_0: .q5_0
        case .q5_1: .q5_1
        case .q5_K: .q5_k_m
        case .q6_K: .q6_k
        case .q2_K, .q3_K, .q4_K: .q4_k_m
        default: .f32
        }
    }
}
