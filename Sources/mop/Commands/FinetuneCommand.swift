import ArgumentParser
import Coordinator
import Foundation
import Shared

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "LoRA recovery fine-tuning on Alpaca-style instruction data; writes the adapter and the merged model.",
        discussion: "Every rank trains on its share of each batch; one allreduce of the gradients per step keeps the ranks identical. With --stages S the ranks form S pipeline stages x N/S replicas, each rank holding its stage's blocks and their adapters only.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "Alpaca JSONL (instruction, optional input, output).") var data: String
    @Option(help: "Output directory (created; must be new or empty).") var out: String
    @OptionGroup var options: FineTuneOptions
    @Option(help: "Seed of the adapters' initialisation, the split, the order and dropout.") var seed: UInt64 = 0
    @OptionGroup(title: "Export") var export: ExportOptions
    @Option(help: ArgumentHelp("Pipeline stages: the ranks form S stages x N/S replicas and each rank holds and trains only its stage's blocks and their adapters, for models larger than a node.",
                               discussion: "Each replica's share of a batch flows through its stages in micro-batches (GPipe: every micro-batch forward, then every one backward); the replicas of a stage sum its gradients and clipping takes the norm over all stages. Each stage writes its part of the merged model (a split GGUF of one part per stage, unless --gguf-single; sharded safetensors)."))
    var stages = 1
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            // From the header alone, so a rank too large fails before the weights load.
            try options.lora.validate(for: ModelLoader.describe(path: model).config, file: model)
            // Only rank 0 writes the outputs, and holds the folder for the whole job.
            let claim = communicator.isCoordinator ? try OutputDirectory.claim(out, resuming: false) : nil
            defer { claim?.release() }
            let directory = out
            var layout: PipelineLayout?
            if stages > 1 {
                layout = try PipelineLayout(stages: stages, ranks: communicator.size,
                                            blocks: ModelLoader.describe(path: model).config.layers.count)
            }
            // A pipeline stage maps the whole file but holds (touches) only its part's tensors.
            let part = try layout.map { layout in
                try layout.parts(ModelLoader.describe(path: model).config)[layout.stage(ofRank: communicator.rank)]
            }
            let loaded = try ModelLoader.load(path: model, storage: weightOptions.weights, part: part)
            guard let spec = loaded.tokenizer else { throw MopError(file: model, "the model has no tokenizer") }
            let job = FineTuneJob(options: options, seed: seed, export: try ResolvedExport(export, model: model))
            guard let report = try job.run(weights: loaded.weights, tokenizer: spec, model: model, data: data,
                                           directory: directory, communicator: communicator, layout: layout)
                .report else { return }
            if json { return FileHandle.standardOutput.write(report.json() + Data("\n".utf8)) }
            RunSupport.printLine(report.line + "; wrote " + directory)
        }
    }
}
