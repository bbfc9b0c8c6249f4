import ArgumentParser
import Coordinator
import Foundation
import Shared

/// Rebuilds a pruned model from the original and a `structure.json` (docs/design.md#structure-file: the structure is
/// enough to re-derive the pruned model). Also the way to make a hand-chosen, non-uniform model (e.g. for a `deci` GGUF
/// check).
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Write the model that a structure.json describes, cut from the original model.")

    @Argument(help: "The original model: a GGUF file, or a Hugging Face directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "A structure.json written by mop prune (indices of the original model).") var structure: String
    @Option(help: "Output directory (created; must be new or empty).") var out: String
    @OptionGroup(title: "Export") var export: ExportOptions

    func run() throws {
        RunSupport.run(threads: nil) { communicator in
            guard communicator.isCoordinator else { return }
            // First, so a taken or unwritable folder fails before any work; a failure later removes a folder made here.
            let claim = try OutputDirectory.claim(out, resuming: false)
            defer { claim.release() }
            let directory = claim.path
            let kept = try PruningStructure.load(path: structure)
            let loaded = try ModelLoader.load(path: model, storage: weightOptions.weights)
            try kept.validate(against: loaded.weights.config, file: structure)
            let export = try ResolvedExport(self.export, model: model)
            let pruned = try export.write(original: loaded.weights, structure: kept, tokenizer: loaded.tokenizer, to: directory)
            let config = pruned.config
            let compression = 1 - Double(config.parameters) / Double(loaded.weights.config.parameters)
            RunSupport.printLine(String(format: "wrote %@: %ld layers, %ld parameters (%.2f%% compression); %@", directory,
                                        config.layers.count, config.parameters, compression * 100, export.summary()))
        }
    }
}
