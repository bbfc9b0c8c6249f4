import ArgumentParser
import Coordinator
import Shared

extension ModelExport.Format: ExpressibleByArgument {}
extension GGUFWriter.MatrixType: ExpressibleByArgument {}

/// How `prune`, `apply` and `finetune` write their models: which files (`--format`) and the matrices' element type
/// (`--export-type`). `--f16` is the older spelling of `--export-type f16`, kept so existing scripts run.
struct ExportOptions: ParsableArguments {
    @Option(help: "safetensors, gguf or both.") var format: ModelExport.Format = .both
    @Option(help: ArgumentHelp("Element type of the exported weight matrices (default f32); q8_0 is GGUF only (--format gguf), and a matrix whose rows are not whole 32-element blocks is written f16, as llama-quantize does. 1-D tensors (norms, biases) stay f32 in both formats; a value past f16's 65504 is refused.",
                               valueName: "f32|f16|bf16|q8_0"))
    var exportType: GGUFWriter.MatrixType?
    @Flag(help: "The same as --export-type f16.") var f16 = false

    /// The chosen matrix type.
    var type: GGUFWriter.MatrixType { exportType ?? (f16 ? .f16 : .f32) }

    func validate() throws {
        if f16, let exportType, exportType != .f16 {
            throw ValidationError("--f16 means --export-type f16, which contradicts --export-type \(exportType.rawValue)")
        }
        // Refused here, before a model loads or a search runs, rather than after hours with nothing written.
        do { try ModelExport.check(format: format, type: type) } catch { throw ValidationError("\(error)") }
    }

    /// Refuses `weights` whose values these types cannot hold (`ModelExport.checkRange`), for a job to fail before
    /// its long part rather than at the export.
    func checkRange(_ weights: ModelWeights, file: String) throws {
        try ModelExport.checkRange(weights, format: format, type: type, file: file)
    }

    /// Writes `original` cut to `structure` into `directory` as these options say (`ModelExport.write`).
    @discardableResult
    func write(original: ModelWeights, structure: PruningStructure, tokenizer: TokenizerSpec?, to directory: String) throws -> ModelWeights {
        try ModelExport.write(original: original, structure: structure, tokenizer: tokenizer, to: directory, format: format, type: type)
    }
}
