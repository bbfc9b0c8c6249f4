import ArgumentParser
import Coordinator
import Shared

extension ModelExport.Format: ExpressibleByArgument {}
extension GGUFWriter.MatrixType: ExpressibleByArgument {}
extension SplitSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// How `prune`, `apply` and `finetune` write their models: which files (`--format`) and the matrices' element type
/// (`--export-type`, by default the input's own: `ExportTypeChoice`). `--f16` is the older spelling of
/// `--export-type f16`, kept so existing scripts run.
struct ExportOptions: ParsableArguments {
    @Option(help: "safetensors, gguf or both.") var format: ModelExport.Format = .both
    @Option(help: ArgumentHelp("Element type of the exported weight matrices, or a llama.cpp mixture (q4_k_m, q4_k_s, q5_k_m, q5_k_s, q6_k: each tensor's type by llama-quantize's rules). Default: the input's own (its GGUF file type, or its safetensors dtype). Block types are GGUF only; with --format both the safetensors copy is f16. A matrix whose rows are not whole blocks falls back as llama-quantize does (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, else F16). 1-D tensors (norms, biases) stay f32 in both formats; a value past f16's 65504 is refused.",
                               valueName: "f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q4_k_m|q4_k_s|q5_k_m|q5_k_s|q6_k"))
    var exportType: GGUFWriter.MatrixType?
    @Flag(help: "The same as --export-type f16.") var f16 = false
    @Flag(help: "With a block type: write pruned feed-forward widths as they are, so a down projection whose rows are not whole 32-element blocks falls back to F16 as llama-quantize's does (default: zero neurons round each width up to whole blocks, the same function in the block type).")
    var exactWidths = false
    @Option(help: ArgumentHelp("Split each exported model into files of at most this much tensor data, as llama.cpp's gguf-split does: a split GGUF (model-00001-of-0000n.gguf, ...; llama.cpp and mop load the first part and find the others) and sharded safetensors (hf/model-00001-of-0000n.safetensors and model.safetensors.index.json). Default: one file each.",
                                valueName: "<n>M|<n>G"))
    var splitMaxSize: SplitSize?
    @Flag(help: ArgumentHelp("With --stages: write model.gguf as one file (rank 0 receives each stage's tensors in file order, a panel at a time, and writes them) instead of a split GGUF of one part per stage. Without --stages the GGUF is one file anyway."))
    var ggufSingle = false
    @Option(help: ArgumentHelp("llama.cpp's mmproj GGUF of a LLaVA-1.5 whose language model is the GGUF given: copied unchanged beside the pruned model as mmproj.gguf, so that model.gguf and mmproj.gguf are again llama.cpp's pair.", valueName: "file"))
    var mmproj: String?

    /// The type asked for on the command line, nil when the input's own is to be used.
    var given: GGUFWriter.MatrixType? { exportType ?? (f16 ? .f16 : nil) }

    func validate() throws {
        if f16, let exportType, exportType != .f16 {
            throw ValidationError("--f16 means --export-type f16, which contradicts --export-type \(exportType.rawValue)")
        }
        if ggufSingle, splitMaxSize != nil { throw ValidationError("--gguf-single writes one GGUF file, which contradicts --split-max-size") }
        if ggufSingle, format == .safetensors { throw ValidationError("--gguf-single is about the GGUF: give --format gguf or both") }
        // Refused here, before a model loads or a search runs, rather than after hours with nothing written.
        if let given { do { try ModelExport.check(format: format, type: given) } catch { throw ValidationError("\(error)") } }
    }

    /// The export type for a job on the model at `model`: the one given, else the input's own.
    func choice(for model: String) throws -> ExportTypeChoice {
        if let given { return ExportTypeChoice(type: given, reason: "--export-type") }
        return try ExportTypeChoice.matching(modelAt: model)
    }
}

/// `ExportOptions` with the export type chosen for one input model: what a job writes with.
struct ResolvedExport: Sendable {
    let format: ModelExport.Format
    let choice: ExportTypeChoice
    let exactWidths: Bool
    /// The input model: a LLaVA checkpoint's pruned language model is written back into its container.
    let source: String
    let split: SplitSize?
    /// Under pipeline stages, one GGUF file written by rank 0 rather than one part per stage.
    let singleGGUF: Bool
    /// llama.cpp's mmproj of a LLaVA GGUF input, copied into the output unchanged.
    let mmproj: String?

    init(_ options: ExportOptions, model: String) throws {
        format = options.format
        choice = try options.choice(for: model)
        exactWidths = options.exactWidths
        source = ModelLoader.resolve(model)
        split = options.splitMaxSize
        singleGGUF = options.ggufSingle
        mmproj = try Self.checkedMmproj(options.mmproj, model: source)
    }

    /// Chosen on rank 0 and sent to the others: with `--broadcast-weights` a node may have no copy of the model to read
    /// the input's types from.
    init(_ options: ExportOptions, model: String, communicator: any Communicator) throws {
        var bytes: [UInt8] = []
        if communicator.isCoordinator {
            let chosen = try options.choice(for: model)
            bytes = Array((chosen.type.rawValue + "\n" + chosen.reason).utf8)
        }
        communicator.broadcast(&bytes, root: 0)
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: "\n", maxSplits: 1).map(String.init)
        guard parts.count == 2, let type = GGUFWriter.MatrixType(rawValue: parts[0]) else {
            throw MopError("malformed export type from rank 0")
        }
        format = options.format
        choice = ExportTypeChoice(type: type, reason: parts[1])
        exactWidths = options.exactWidths
        source = ModelLoader.resolve(model)
        split = options.splitMaxSize
        singleGGUF = options.ggufSingle
        mmproj = communicator.isCoordinator ? try Self.checkedMmproj(options.mmproj, model: source) : options.mmproj
    }

    var type: GGUFWriter.MatrixType { choice.type }

    /// The mmproj given, checked before a model loads or a search runs: a GGUF language model's, and an mmproj file
    /// (its clip.* keys read; its tensors are checked when `mop generate` reads it).
    private static func checkedMmproj(_ path: String?, model: String) throws -> String? {
        guard let path else { return nil }
        guard try ModelLoader.format(of: model) == .gguf else {
            throw MopError(file: path, "--mmproj goes with a language model GGUF; a LLaVA directory holds its own tower")
        }
        try GGUFMmproj.check(path: path, text: try ModelLoader.describe(path: model).config)
        return path
    }

    /// Refuses `weights` whose values these types cannot hold (`ModelExport.checkRange`), for a job to fail before
    /// its long part rather than at the export.
    func checkRange(_ weights: ModelWeights, file: String, hasImportance: Bool = false) throws {
        try ModelExport.checkRange(weights, format: format, type: type, file: file, hasImportance: hasImportance)
    }

    /// Writes `original` cut to `structure` into `directory` as these options say (`ModelExport.write`); of a LLaVA
    /// input, `hf/` then becomes a LLaVA checkpoint again (`LlavaExport`) and `model.gguf` gets its `mmproj.gguf`
    /// (written from the checkpoint's tower, or the given mmproj copied), llama.cpp's pair.
    @discardableResult
    func write(original: ModelWeights, structure: PruningStructure, tokenizer: TokenizerSpec?, to directory: String,
               importance: [String: [Float]] = [:]) throws -> ModelWeights {
        let pruned = try ModelExport.write(original: original, structure: structure, tokenizer: tokenizer, to: directory,
                                           format: format, type: type, importance: importance, exactWidths: exactWidths,
                                           split: split)
        if format != .gguf, LlavaExport.isLlava(source) {
            try LlavaExport.wrap(folder: directory + "/" + ModelExport.huggingFaceFolder, original: source)
        }
        try writeMmproj(to: directory, text: pruned.config)
        return pruned
    }

    /// llama.cpp's pair: `model.gguf` gets its `mmproj.gguf`, the given mmproj copied or a LLaVA checkpoint's tower
    /// written (its projector's width is the hidden size, which pruning keeps).
    private func writeMmproj(to directory: String, text config: ModelConfig) throws {
        let path = directory + "/" + GGUFMmproj.fileName
        if let mmproj { try GGUFMmproj.copy(mmproj, to: path) }
        if format != .safetensors, LlavaExport.isLlava(source) {
            try LlavaExport.writeMmproj(original: source, text: config, to: path)
        }
    }

    /// The export of a rank's part of a model under pipeline stages (`StagedExport`, a collective that checks every
    /// stage's tensors): `held` is the rank's model, `parts` what each stage holds of it. A LLaVA input's Hugging Face
    /// files are refused: its container is rebuilt from the whole language model by one process (`LlavaExport`).
    func staged(held: ModelWeights, parts: [ModelPart], layout: PipelineLayout, tokenizer: TokenizerSpec?, to directory: String,
                importance: [String: [Float]] = [:], communicator: any Communicator) throws -> StagedExport {
        if format != .gguf, LlavaExport.isLlava(source) {
            throw MopError(file: source, "a LLaVA checkpoint is written back into its container by one process, which --stages does not do: give --format gguf, or run without --stages")
        }
        return try StagedExport(held: held, parts: parts, layout: layout, tokenizer: tokenizer, directory: directory,
                                format: format, type: type, importance: importance, exactWidths: exactWidths, split: split,
                                singleGGUF: singleGGUF, communicator: communicator)
    }

    /// Writes a `staged` export into `directory` (a collective), then on rank 0 the mmproj beside it, as `write` does.
    func write(_ staged: StagedExport, structure: PruningStructure, text config: ModelConfig, to directory: String,
               communicator: any Communicator) throws {
        try staged.write(structure: structure)
        if communicator.isCoordinator { try writeMmproj(to: directory, text: config) }
    }

    /// The line the report and the console give: which types the files hold and why.
    func summary(importance: Bool = false) -> String {
        var parts: [String] = []
        if format != .safetensors { parts.append("GGUF \(type.rawValue)" + (importance ? " with the calibration set's importance matrix" : "")) }
        if format != .gguf { parts.append("safetensors \(ModelExport.safetensorsDType(type).ggufType.name.lowercased())") }
        return parts.joined(separator: ", ") + " (\(choice.reason))"
    }
}
