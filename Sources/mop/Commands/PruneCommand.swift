import ArgumentParser
import Coordinator
import Foundation
import Shared
import Worker

extension PruneSettings.Method: ExpressibleByArgument {}
extension PruneSettings.CandidateScoring: ExpressibleByArgument {}
extension PruneSettings.Selection: ExpressibleByArgument {}
extension PruneSettings.Criterion: ExpressibleByArgument {}
extension PruneSettings.DepthRule: ExpressibleByArgument {}
extension PruneSettings.GQAUnit: ExpressibleByArgument {}

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Prune a model to a compression target with MoP (or depth-only, width-only, one-shot AMP).",
        discussion: "Rank 0 runs the search; every rank scores candidates on its shard of the calibration set.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @Option(help: "Fraction of all parameters to remove, in (0, 1).") var target: Double?
    @Option(help: ArgumentHelp("Instead of --target: the generation latency to reach, as a fraction of the dense model's, in (0, 1).",
                               discussion: "Predicted by a latency model that rank 0 measures before the search (probe shapes of the model timed by the paper's protocol); --eval measures the result."))
    var targetLatency: Double?
    @Option(help: "With --target-latency: timed rounds of the latency probes.") var latencyRounds = 3
    @Option(help: "With --target-latency: the latency-model.json of an earlier run on this machine, instead of measuring one.")
    var latencyModel: String?
    @Option(help: "Output directory (created; must be empty unless --resume names it).") var out: String?
    @Option(help: "mop, depth, width or amp.") var method: PruneSettings.Method = .mop
    @Option(help: "loss, kl, random or path.") var selection: PruneSettings.Selection = .loss
    @Option(help: "With --selection path: the steps, e.g. LGGL. The search stops at the target with steps left, goes on with width steps past the last one, and says so.") var path = ""
    @Option(help: "Width criterion: amp, reversed or random.") var criterion: PruneSettings.Criterion = .amp
    @Option(help: "similarity, position or loss.") var depthRule: PruneSettings.DepthRule = .similarity
    @Option(help: "GQA head unit: query or group.") var gqaUnit: PruneSettings.GQAUnit = .query
    @Option(help: "Partial paths the search keeps, ranked by the calibration objective (1: the greedy search).")
    var beam = 1
    @Option(help: "Score each step by the objective after this many further greedy steps (0: the step alone).")
    var lookahead = 0
    @Option(help: "cross-fit (build each candidate on all calibration folds but one, score it on that one) or in-sample.")
    var candidateScoring: PruneSettings.CandidateScoring = .crossFit
    @Option(help: "Interleaved calibration folds of the cross-fitted scoring (at least 2, at most the calibration sequences).")
    var crossFitFolds = 2
    @Option(help: "Alpaca JSONL (prompts), image-text JSONL for a LLaVA (rows with an image), {\"text\"} JSONL or plain text.")
    var calibration = "../shared/data/instruct/alpaca.jsonl"
    @Option(help: "Calibration sequences.") var calibrationSamples = 128
    @Option(help: "Longest calibration sequence, in tokens.") var seqLen = 512
    @Option(help: "Seed of the random choices (selection random, criterion random); with --finetune also of the adapters, the split, the order and dropout.")
    var seed: UInt64 = 0
    @Option(help: "Sample the calibration rows with this seed instead of taking the first ones.") var calibrationSeed: UInt64?
    @OptionGroup(title: "Export") var export: ExportOptions
    @Option(help: ArgumentHelp("With a quantized export type (not q8_0): weight the block encoders' scale search by each input column's mean squared activation on the calibration set, as llama-quantize does with an importance matrix (calibration), or not (none: llama-quantize's bytes without one).",
                               valueName: "calibration|none"))
    var quantImportance: QuantImportanceSource = .calibration
    @Option(help: "Continue the interrupted run in this output directory.") var resume: String?
    @Option(help: "Stop after this many iterations (counted from the original model), e.g. to time one.")
    var maxIterations: Int?
    @OptionGroup var cluster: ClusterOptions
    @Option(help: ArgumentHelp("Split the ranks into this many groups; the candidates of an iteration are dealt to the groups, each scoring on its own copy of the calibration set (helps with many ranks and few tokens per rank).",
                               discussion: "With --dedicated-coordinator rank 0 scores nothing and joins group 0; ranks 1... are split."))
    var groups = 1
    @Option(help: ArgumentHelp("Pipeline stages: the ranks form S stages x N/S replicas and each rank holds only its stage's blocks, for models larger than a node.",
                               discussion: "The calibration set is sharded over the replicas; each replica's sequences flow through its stages in micro-batches. --finetune and --eval go on with each rank's stage (pipelined LoRA, pipelined evaluation), and each stage writes its own part of every export (a split GGUF of one part per stage, unless --gguf-single; sharded safetensors)."))
    var stages = 1
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object on stdout.") var json = false
    @Flag(help: "Fine-tune the pruned model with LoRA after the search, in the same job (into DIR/finetuned).")
    var finetune = false
    @Option(help: "With --finetune: Alpaca JSONL to fine-tune on (default: the --calibration file).") var data: String?
    @OptionGroup(title: "Fine-tuning (with --finetune)") var finetuning: FineTuneOptions
    @Flag(help: "After the search (and --finetune): perplexity, zero-shot accuracy and latency of the dense, pruned and recovered models, into the report.")
    var eval = false
    @OptionGroup(title: "Evaluation (with --eval)") var evaluation: EvaluationOptions

    func validate() throws {
        guard (out == nil) != (resume == nil) else { throw ValidationError("give either --out DIR or --resume DIR") }
        guard (target == nil) != (targetLatency == nil) else {
            throw ValidationError("give either --target (a compression) or --target-latency (a latency ratio)")
        }
        guard latencyRounds >= 1 else { throw ValidationError("--latency-rounds must be at least 1") }
        guard latencyModel == nil || targetLatency != nil else {
            throw ValidationError("--latency-model is for --target-latency")
        }
        guard calibrationSamples >= 1 else { throw ValidationError("--calibration-samples must be at least 1") }
        guard seqLen >= 2 else { throw ValidationError("--seq-len must be at least 2") }
        guard finetune || data == nil else { throw ValidationError("--data is the fine-tuning data: give it with --finetune") }
        if let maxIterations, maxIterations < 1 { throw ValidationError("--max-iterations must be at least 1") }
        guard stages >= 1 else { throw ValidationError("--stages must be at least 1") }
        if stages > 1 {
            for (given, flag) in [(cluster.dedicatedCoordinator, "--dedicated-coordinator"), (groups > 1, "--groups"),
                                  (targetLatency != nil, "--target-latency")] where given {
                throw ValidationError("--stages and \(flag) cannot be combined yet: every rank is a pipeline stage holding only its blocks")
            }
        }
    }

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            let rankGroups = try cluster.groups(groups, communicator)
            let settings = try PruneSettings(target: target, targetLatency: targetLatency, method: method, selection: selection, path: path,
                                             criterion: criterion, depthRule: depthRule, gqaUnit: gqaUnit, seed: seed,
                                             beam: beam, lookahead: lookahead,
                                             candidateScoring: candidateScoring, crossFitFolds: crossFitFolds)
            // Only rank 0 touches the output directory (and the calibration file): nodes need not share a filesystem.
            // It holds the directory for the whole job, so a second job given it is refused.
            let directory = resume ?? out!
            let claim = communicator.isCoordinator ? try OutputDirectory.claim(directory, resuming: resume != nil) : nil
            defer { claim?.release() }
            let export = try ResolvedExport(self.export, model: model, communicator: communicator)
            if let resume, communicator.isCoordinator {
                // A malformed checkpoint fails now, not after minutes of loading and the dense pass.
                if try SearchCheckpoint.load(directory: resume).inputs == nil {
                    FileHandle.standardError.write(Data(("mop: warning: \(SearchCheckpoint.path(in: resume)) does not record the model "
                        + "and calibration it was written for (an older mop): resuming without checking that they are the same\n").utf8))
                }
            }
            if finetune {
                // Bad fine-tuning settings or a taken output folder fail now, not after the search.
                try finetuning.lora.validate(file: nil)
                if communicator.isCoordinator {
                    _ = try OutputDirectory.prepare(directory + "/" + Self.finetunedFolder, resuming: false, create: false)
                    // Recovery trains on text, as the paper's does: image rows are no instruction data.
                    if data == nil, try CalibrationSet.holdsImages(calibration) {
                        throw MopError(file: calibration, "holds image rows, and --finetune trains on text only: give the instruction data with --data")
                    }
                }
            }
            if eval && communicator.isCoordinator {
                // A missing or malformed evaluation file fails now too: the text and every task's rows are read once.
                _ = try TextFile.read(evaluation.evalText)
                for task in try evaluation.tasks {
                    _ = try TaskData.load(task, directory: evaluation.tasksDir, limit: evaluation.evalLimit)
                }
            }
            let layout = try cluster.layout(stages: stages, model: model, communicator)
            let distributed = try cluster.loadModel(model, communicator, layout: layout)
            let loaded = distributed.model
            // Pruning keeps a subset of the values: weights the export type cannot hold fail now, not after the search.
            if communicator.isCoordinator && layout == nil { try export.checkRange(loaded.weights, file: model, hasImportance: quantImportance == .calibration) }
            guard let spec = loaded.tokenizer else { throw MopError(file: model, "the model has no tokenizer") }
            // The model cannot see past its positions (RoPE table).
            let sequenceLength = min(seqLen, loaded.weights.config.maxPositions)
            // Rank 0's calibration set; with image rows, also the LLaVA's eyes that see them.
            var calibrationSet: [CalibrationSet.Sequence] = []
            var eyes: LlavaEyes?
            if communicator.isCoordinator {
                if try CalibrationSet.holdsImages(calibration) {
                    eyes = try LlavaEyes.find(model: model, text: loaded.weights.config, tokenizer: spec, mmproj: export.mmproj)
                }
                calibrationSet = try CalibrationSet.sequences(path: calibration, tokenizer: try spec.tokenizer(file: model),
                                                              count: calibrationSamples, seqLen: sequenceLength, seed: calibrationSeed,
                                                              images: eyes?.imageTokens(spec))
            }
            var sequences = calibrationSet.map(\.tokens)
            try communicator.broadcast(sequences: &sequences, root: 0)
            // Every group (or pipeline replica) shards the whole set, so each scoring rank needs a sequence.
            let workers = layout?.replicas ?? rankGroups.largestGroupWorkers
            guard settings.candidateScoring != .crossFit || sequences.count >= settings.crossFitFolds else {
                throw MopError(file: calibration, "\(settings.crossFitFolds) cross-fit folds but only \(sequences.count) calibration "
                               + "sequences: each fold needs one")
            }
            guard sequences.count >= workers else {
                let ranks = layout != nil ? "\(workers) pipeline replicas" : rankGroups.count > 1 ? "a group of \(workers) scoring ranks"
                    : cluster.dedicatedCoordinator ? "\(workers) scoring ranks" : "\(communicator.size) ranks"
                throw MopError(file: calibration, "\(ranks) but only \(sequences.count) calibration sequences")
            }
            let costs = sequences.map(\.count)
            let shard = layout.map { Sharding.range(costs: costs, rank: $0.replica(ofRank: communicator.rank), size: $0.replicas) }
                ?? rankGroups.shard(costs: costs, rank: communicator.rank)
            let stage = layout.map { PipelineStage(layout: $0, config: loaded.weights.config, communicator: communicator) }
            let featureStart = Date()
            let images = calibrationSet.filter { $0.image != nil }.count
            let features = try ImageFeatureBroadcast.share(
                images: calibrationSet.map(\.image), shard: shard, embeds: layout.map { $0.stage(ofRank: communicator.rank) == 0 } ?? true,
                hidden: loaded.weights.config.hidden, communicator: communicator
            ) { sequence in
                guard let eyes, let image = calibrationSet[sequence].image else { return [] }
                return try eyes.features(ofImage: image.path)
            }
            if let eyes {
                FileHandle.standardError.write(Data(String(format: "prune: the vision tower saw the %ld calibration images (%ld feature rows each) in %.1f s\n",
                                                           images, eyes.vision.config.imageTokens, Date().timeIntervalSince(featureStart)).utf8))
            }
            let worker = CalibrationWorker(original: loaded.weights, sequences: Array(sequences[shard]), features: features,
                                           firstSequence: shard.lowerBound, file: model, stage: stage)
            let dispatch = ScoringDispatch(communicator: communicator, groups: rankGroups, original: loaded.weights.config)
            let weightSeconds = communicator.gather([distributed.seconds], root: 0).map { $0[0] }.max() ?? 0
            let latency = settings.targetLatency == nil ? nil : try LatencyModelJob.prepare(
                loaded.weights, tokenizer: spec, modelPath: model, directory: directory, resuming: resume != nil,
                given: latencyModel, rounds: latencyRounds, communicator: communicator)
            // Every rank's pipeline figures, after the search (a collective).
            func pipelineReport() -> PipelineReport? {
                guard let layout, let stage, let link = worker.link else { return nil }
                let measure = PipelineReport.RankMeasure(seconds: dispatch.statistics.computeSeconds, waitSeconds: link.waitSeconds,
                                                         bytesSent: link.bytesSent, weightsHeldBytes: stage.part.bytesHeld(loaded.weights))
                return PipelineReport.gather(measure, layout: layout, parts: layout.parts(loaded.weights.config), communicator: communicator)
            }
            guard communicator.isCoordinator else {
                try dispatch.serve(worker.answer)
                worker.forgetSearch()
                _ = DispatchStatistics.gather(dispatch.statistics, communicator: communicator)
                _ = pipelineReport()
                let chosen = try layout.map { try writeStages(nil, importanceSums: [], original: loaded.weights, layout: $0, spec,
                                                             directory: directory, export: export, communicator: communicator) }
                _ = try recoverAndEvaluate(model: model, loaded.weights, layout: layout, spec, directory: directory,
                                           export: export, structure: chosen, communicator: communicator)
                return
            }

            // One dense pass first: the baseline loss, and the cost of a forward pass that every step is measured against.
            let start = Date()
            let dense = try dispatch.ask(.loss(current: .identity(loaded.weights.config), step: nil), localAnswer: worker.answer)
            let calibrationSummary = PruneReport.CalibrationSummary(
                sequences: sequences.count, tokens: sequences.reduce(0) { $0 + $1.count },
                denseLoss: dense[0] / dense[1], forwardSeconds: Date().timeIntervalSince(start), images: images > 0 ? images : nil)
            FileHandle.standardError.write(Data(String(
                format: "prune: %ld calibration sequences (%ld tokens) on %ld ranks%@; dense loss %.4f, one forward pass %.1f s\n",
                calibrationSummary.sequences, calibrationSummary.tokens, communicator.size,
                rankGroups.count > 1 ? " in \(rankGroups.count) groups" : "", calibrationSummary.denseLoss,
                calibrationSummary.forwardSeconds).utf8))
            let afterDense = dispatch.statistics
            let scorer = CandidateScorer(batch: { try dispatch.ask($0, localAnswer: worker.answer) })
            let inputs = SearchInputs(
                modelChecksum: ModelChecksum.hex(distributed.checksum),
                calibrationChecksum: try FileChecksum.hex(of: calibration), calibrationSamples: calibrationSamples,
                seqLen: sequenceLength, calibrationSeed: calibrationSeed)
            let search = MoPSearch(settings: settings, original: loaded.weights.config, latency: latency,
                                   outputDirectory: directory, inputs: inputs, scorer: scorer,
                                   progress: { FileHandle.standardError.write(Data(("prune: " + $0.line + "\n").utf8)) })
            let result = try search.run(resumingFrom: resume == nil ? nil : directory, maxIterations: maxIterations)
            FileHandle.standardError.write(Data(("prune: the search asked the workers \(scorer.counts.asked) questions"
                + " and answered \(scorer.counts.remembered) repeated ones from memory\n").utf8))
            if result.finished, let departure = settings.pathDeparture(taken: result.structure.path) {
                FileHandle.standardError.write(Data("prune: \(departure)\n".utf8))
            }
            let importanceSums = try quantizationImportanceSums(export: export) {
                try dispatch.ask(.quantImportance(current: result.structure), localAnswer: worker.answer)
            }
            dispatch.stop()
            worker.forgetSearch()
            var distribution = DistributionReport(
                groups: rankGroups, model: distributed, weightSeconds: weightSeconds,
                scoringSeconds: Date().timeIntervalSince(start),
                perRank: DispatchStatistics.gather(dispatch.statistics, communicator: communicator),
                search: dispatch.statistics.since(afterDense))
            distribution.pipeline = pipelineReport()
            FileHandle.standardError.write(Data("prune: writing the pruned model to \(directory)\(layout == nil ? "" : ", each stage its part")\n".utf8))
            if let layout {
                _ = try writeStages(result.structure, importanceSums: importanceSums, original: loaded.weights, layout: layout, spec,
                                    directory: directory, export: export, communicator: communicator)
            } else {
                try export.write(original: loaded.weights, structure: result.structure, tokenizer: spec, to: directory,
                                 importance: Self.importance(importanceSums, result.structure, original: loaded.weights.config))
            }
            // The search's report is written before recovery and evaluation, so a failure there keeps it.
            var report = PruneReport(result: result, calibration: calibrationSummary, distribution: distribution,
                                     latencyModel: latency)
            report.export = export.summary(importance: !importanceSums.isEmpty)
            try report.write(directory: directory)
            let after = try recoverAndEvaluate(model: model, loaded.weights, layout: layout, spec, directory: directory,
                                               export: export, structure: result.structure, communicator: communicator)
            report.finetune = after.finetune
            report.evaluation = after.evaluation
            if finetune || eval { try report.write(directory: directory) }
            if json { return FileHandle.standardOutput.write(report.json() + Data("\n".utf8)) }
            RunSupport.printLine(String(format: "pruned to %.2f%% compression (%.2f%% of non-embedding parameters), path %@, %ld parameters; wrote %@",
                                        result.compression * 100, result.nonEmbeddingCompression * 100,
                                        result.structure.path.isEmpty ? "(none)" : result.structure.path,
                                        result.parameters, directory))
            RunSupport.printLine("written as " + (report.export ?? export.summary()))
            if let latency = report.latency {
                RunSupport.printLine(String(format: "latency: predicted %.1f%% of the dense model's (target %.1f%%)", latency.predicted * 100,
                                            latency.target * 100)
                                     + (latency.measured.map { String(format: ", measured %.1f%%", $0 * 100) } ?? ""))
            }
            if let recovery = after.finetune {
                RunSupport.printLine(recovery.line + "; wrote " + directory + "/" + Self.finetunedFolder)
            }
            for model in after.evaluation?.models ?? [] { RunSupport.printLine(EvaluationJob.line(model)) }
            if eval { RunSupport.printLine("report: " + directory + "/" + PruneReport.markdownName) }
        }
    }

    static let finetunedFolder = "finetuned"

    /// Where the block encoders' importance comes from (`--quant-importance`).
    enum QuantImportanceSource: String, ExpressibleByArgument {
        case calibration, none
    }

    /// Rank 0, after the search: the sums behind the pruned model's importance matrix from the calibration set
    /// (`QuantImportance`), when the GGUF export's encoders use one; empty otherwise. `ask` puts the request to the workers.
    private func quantizationImportanceSums(export: ResolvedExport, ask: () throws -> [Double]) throws -> [Double] {
        guard quantImportance == .calibration, export.format != .safetensors,
              GGUFQuantize.usesImportance(export.type.tensorType) else { return [] }
        FileHandle.standardError.write(Data("prune: importance matrix of the pruned model for its \(export.type.rawValue) export\n".utf8))
        return try ask()
    }

    /// The importance matrix of the model `structure` prunes `original` to, from its sums (none without them).
    private static func importance(_ sums: [Double], _ structure: PruningStructure, original: ModelConfig) -> [String: [Float]] {
        sums.isEmpty ? [:] : QuantImportance.means(packedSums: sums, config: structure.config(of: original))
    }

    /// Rank 0's structure (nil on the other ranks, which receive it) on every rank: a collective.
    private static func broadcast(_ structure: PruningStructure?, _ communicator: any Communicator) throws -> PruningStructure {
        var bytes = structure.map { [UInt8]($0.encode()) } ?? []
        communicator.broadcast(&bytes, root: 0)
        return try structure ?? PruningStructure.decode(data: Data(bytes), file: "<structure from rank 0>")
    }

    /// Under pipeline stages, on every rank after the search: rank 0's structure and importance sums reach every rank,
    /// each cuts its stage's blocks of `original` (what it loaded) and writes its part of the export (`StagedExport`).
    /// The structure.
    private func writeStages(_ structure: PruningStructure?, importanceSums: [Double], original: ModelWeights, layout: PipelineLayout,
                             _ spec: TokenizerSpec, directory: String, export: ResolvedExport,
                             communicator: any Communicator) throws -> PruningStructure {
        let chosen = try Self.broadcast(structure, communicator)
        var sums = importanceSums
        communicator.broadcast(&sums, root: 0)
        let held = try chosen.apply(to: original, holding: layout.parts(original.config)[layout.stage(ofRank: communicator.rank)])
        let staged = try export.staged(held: held, parts: layout.parts(original.config, pruned: chosen), layout: layout,
                                       tokenizer: spec, to: directory,
                                       importance: Self.importance(sums, chosen, original: original.config),
                                       communicator: communicator)
        try export.write(staged, structure: chosen, text: held.config, to: directory, communicator: communicator)
        return chosen
    }

    /// After the search, on every rank: rank 0 sends the chosen structure (nil on the other ranks, which receive
    /// it) and every rank prunes its own copy of the weights with it; then the chained recovery (`--finetune`, every
    /// rank taking part in the data-parallel training, files into DIR/finetuned) and evaluation (`--eval`) of the
    /// dense, pruned and recovered models. The reports come back on rank 0. `original` is what the rank loaded: with
    /// a pipeline `layout` its stage's part, which it goes on with (pipelined training and evaluation, each stage
    /// holding the kept blocks of its part and writing its part of the recovered model).
    private func recoverAndEvaluate(model: String, _ original: ModelWeights, layout: PipelineLayout?,
                                    _ spec: TokenizerSpec, directory: String,
                                    export: ResolvedExport, structure: PruningStructure?, communicator: any Communicator) throws
        -> (finetune: FineTuneReport?, evaluation: EvaluationReport?) {
        guard finetune || eval else { return (nil, nil) }
        let chosen = try Self.broadcast(structure, communicator)
        let part = layout.map { $0.parts(original.config)[$0.stage(ofRank: communicator.rank)] }
        let parts = layout.map { $0.parts(original.config, pruned: chosen) }
        let pruned = try chosen.apply(to: original, holding: part)
        var recovered: FineTuneJob.Outcome?
        let folder = directory + "/" + Self.finetunedFolder
        if finetune {
            _ = try OutputDirectory.prepare(folder, resuming: false, create: communicator.isCoordinator)
            let job = FineTuneJob(options: finetuning, seed: seed, export: export)
            recovered = try job.run(weights: pruned, tokenizer: spec, model: directory, data: data ?? calibration,
                                    directory: folder, communicator: communicator, layout: layout, parts: parts)
        }
        guard eval else { return (recovered?.report, nil) }
        var subjects = [EvaluationJob.Subject(name: "dense", weights: original, path: model, benchPath: model),
                        EvaluationJob.Subject(name: "pruned", weights: pruned, path: directory,
                                                      benchPath: GGUFSplitKeys.file(named: ModelExport.ggufFile, in: directory) ?? directory,
                                                      parts: parts)]
        if let recovered {
            // Same shape as the pruned model, so the same latency: not measured twice.
            subjects.append(EvaluationJob.Subject(name: "recovered", weights: recovered.merged, path: folder, benchPath: nil,
                                                  parts: parts))
        }
        let job = EvaluationJob(options: evaluation, dedicatedCoordinator: cluster.dedicatedCoordinator, threads: threadOptions.threads,
                                weights: cluster.weightOptions.weights, layout: layout)
        let report = try job.run(subjects, original: original.config, tokenizer: spec, communicator: communicator)
        return (recovered?.report, report)
    }
}
