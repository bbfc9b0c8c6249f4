import Foundation
import Shared

/// The record of a pruning run: `report.json` for programs and `report.md` for people.
public struct PruneReport: Codable, Equatable, Sendable {
    public var settings: PruneSettings
    public var originalParameters: Int
    public var originalNonEmbeddingParameters: Int
    public var parameters: Int
    public var nonEmbeddingParameters: Int
    /// 1 - P/P0 over all parameters (a tied embedding once), and over non-embedding parameters.
    public var compression: Double
    public var nonEmbeddingCompression: Double
    /// The steps taken, L (depth) and G (width).
    public var path: String
    /// Original indices of the blocks left.
    public var keptLayers: [Int]
    public var iterations: [SearchRecord]
    /// A beam search's iterations, every kept path in each (absent for the greedy search).
    public var beam: [BeamIteration]?
    public var totalSeconds: Double
    /// False when the search stopped before the target.
    public var finished: Bool
    /// The calibration set as the run saw it: the dense model's mean loss and the wall time of one forward pass over
    /// all sequences (on all ranks), the yardstick of the search's own cost.
    public var calibration: CalibrationSummary?
    /// Ranks, weight movement and per-rank scoring time (absent in reports of older versions).
    public var distribution: DistributionReport?
    /// The chained recovery run (`--finetune`) and the evaluation of the dense, pruned and recovered models (`--eval`).
    public var finetune: FineTuneReport?
    /// Setting it also fills in the latency target's measured ratio.
    public var evaluation: EvaluationReport? {
        didSet { latency?.measured = LatencyTargetReport.measured(in: evaluation) }
    }
    /// With a latency target: the latency model, and the pruned model's latency ratio predicted and measured.
    public var latency: LatencyTargetReport?
    /// The files the pruned model was written in and the export type's reason ("GGUF q4_1, safetensors f16 (the
    /// input's general.file_type 3)"); absent in reports of older versions.
    public var export: String?

    public struct CalibrationSummary: Codable, Equatable, Sendable {
        public var sequences: Int
        public var tokens: Int
        public var denseLoss: Double
        public var forwardSeconds: Double
        /// Sequences holding an image (image-text calibration); absent for text.
        public var images: Int?

        enum CodingKeys: String, CodingKey {
            case sequences, tokens, images
            case denseLoss = "dense_loss"
            case forwardSeconds = "forward_seconds"
        }

        public init(sequences: Int, tokens: Int, denseLoss: Double, forwardSeconds: Double, images: Int? = nil) {
            self.sequences = sequences
            self.tokens = tokens
            self.denseLoss = denseLoss
            self.forwardSeconds = forwardSeconds
            self.images = images
        }
    }

    enum CodingKeys: String, CodingKey {
        case settings, parameters, compression, path, iterations, beam, finished, calibration, distribution, finetune, evaluation
        case latency, export
        case originalParameters = "original_parameters"
        case originalNonEmbeddingParameters = "original_non_embedding_parameters"
        case nonEmbeddingParameters = "non_embedding_parameters"
        case nonEmbeddingCompression = "non_embedding_compression"
        case keptLayers = "kept_layers"
        case totalSeconds = "total_seconds"
    }

    public static let jsonName = "report.json"
    public static let markdownName = "report.md"
    public static let lossPlotName = "loss.svg"

    /// `latencyModel`: the model a latency target was predicted by.
    public init(result: SearchResult, calibration: CalibrationSummary? = nil, distribution: DistributionReport? = nil,
                latencyModel: LatencyModel? = nil) {
        self.calibration = calibration
        self.distribution = distribution
        settings = result.settings
        originalParameters = result.originalParameters
        originalNonEmbeddingParameters = result.originalNonEmbeddingParameters
        parameters = result.parameters
        nonEmbeddingParameters = result.nonEmbeddingParameters
        compression = result.compression
        nonEmbeddingCompression = result.nonEmbeddingCompression
        path = result.structure.path
        keptLayers = result.structure.layers.map(\.index)
        iterations = result.records
        beam = result.beam.isEmpty ? nil : result.beam
        totalSeconds = result.seconds
        finished = result.finished
        if let target = result.settings.targetLatency, let latencyModel,
           let predicted = result.records.last?.predictedLatency {
            latency = LatencyTargetReport(target: target, model: latencyModel, predicted: predicted)
        }
    }

    /// report.json: sorted snake_case keys.
    public func json() -> Data { CoordinatorJSON.encode(self) }

    /// Parses a report.json read from `file`.
    public static func decode(data: Data, file: String) throws -> PruneReport {
        try CoordinatorJSON.decode(PruneReport.self, from: data, file: file)
    }

    /// Writes report.json, report.md and the plots it shows (loss.svg, and perplexity.svg with an evaluation) into
    /// `directory`, each atomically.
    public func write(directory: String) throws {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        try AtomicFileWriter.write(json(), to: path(Self.jsonName))
        try AtomicFileWriter.write(Data(lossChart().render().utf8), to: path(Self.lossPlotName))
        if let evaluation {
            let chart = evaluation.perplexityChart(path: iterations, denseCalibrationLoss: calibration?.denseLoss)
            try AtomicFileWriter.write(Data(chart.render().utf8), to: path(EvaluationReport.perplexityPlotName))
        }
        try AtomicFileWriter.write(Data(markdown().utf8), to: (directory as NSString).appendingPathComponent(Self.markdownName))
    }

    /// Calibration loss against compression: both candidates of every iteration and the one taken.
    public func lossChart() -> SVGPlot {
        func points(_ loss: (SearchRecord) -> Double?) -> [SVGPlot.Point] {
            iterations.map { SVGPlot.Point(x: $0.compression * 100, y: loss($0) ?? .nan) }
        }
        return SVGPlot(title: "Calibration loss along the path", xLabel: "compression after the step (%)",
                       yLabel: "mean calibration NLL", series: [
                           .init(name: "depth candidate", points: points(\.depthLoss), style: .markers),
                           .init(name: "width candidate", points: points(\.widthLoss), style: .markers),
                           .init(name: "chosen", points: points { $0.branch == "L" ? $0.depthLoss : $0.widthLoss }, style: .line),
                       ])
    }

    /// report.md: the settings, the outcome, a table of the iterations and a text plot of loss against compression.
    public func markdown() -> String {
        func percent(_ value: Double) -> String { String(format: "%.2f%%", value * 100) }
        func loss(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "-" }
        var lines = [
            "# mop prune report", "",
            "| setting | value |", "|---|---|",
            settings.targetLatency.map { "| target latency | \(percent($0)) of the dense model's |" }
                ?? "| target | \(percent(settings.target ?? 0)) |",
            "| method | \(settings.method.rawValue) |",
            "| selection | \(settings.selection.rawValue)\(settings.path.isEmpty ? "" : " (\(settings.path))") |",
            "| criterion | \(settings.criterion.rawValue) |",
            "| depth rule | \(settings.depthRule.rawValue) |",
            "| GQA unit | \(settings.gqaUnit.rawValue) |",
            "| seed | \(settings.seed) |",
        ]
        if !settings.isGreedy {
            lines += ["| beam | \(settings.beam) |", "| lookahead | \(settings.lookahead) |"]
        }
        lines += [
            "",
            "## Result", "",
            "- path: `\(path.isEmpty ? "(none)" : path)`\(finished ? "" : " (stopped before the target)")",
            "- parameters: \(parameters) of \(originalParameters), compression \(percent(compression))",
            "- non-embedding parameters: \(nonEmbeddingParameters) of \(originalNonEmbeddingParameters), "
                + "compression \(percent(nonEmbeddingCompression))",
            "- blocks kept: \(keptLayers.count) (\(keptLayers.map(String.init).joined(separator: ", ")))",
            String(format: "- search time: %.1f s", totalSeconds),
        ]
        if let export { lines.append("- written as: \(export)") }
        if let calibration {
            lines.append(String(format: "- calibration: %ld sequences, %ld tokens; dense loss %.4f; one forward pass %.2f s",
                                calibration.sequences, calibration.tokens, calibration.denseLoss, calibration.forwardSeconds))
        }
        if let distribution {
            // `search` is rank 0 during the iterations alone; per_rank[0] also counts the dense baseline pass.
            let coordinator = distribution.search
            lines.append(String(format: "- distribution: %ld ranks%@%@, weights %@ (%ld bytes broadcast, %.2f s); rank 0 in the search: "
                                + "%.2f s scoring, %.2f s waiting, %.3f s communicating", distribution.ranks,
                                distribution.groups > 1 ? " in \(distribution.groups) groups" : "",
                                distribution.dedicatedCoordinator ? " (dedicated coordinator)" : "", distribution.weights,
                                distribution.weightBytesBroadcast, distribution.weightSeconds, coordinator.computeSeconds,
                                coordinator.waitSeconds, coordinator.communicationSeconds))
            lines.append("- peak resident memory per rank (VmHWM at the end of the search): "
                         + distribution.perRank.map { String(format: "rank %ld %.2f GB", $0.rank, Double($0.peakResidentBytes) / 1e9) }
                             .joined(separator: ", "))
            if let pipeline = distribution.pipeline {
                lines.append(String(format: "- pipeline: %ld stages x %ld replicas, blocks %@; bubble share %.2f, %.1f MB between stages",
                                    pipeline.stages, pipeline.replicas,
                                    pipeline.stageBlocks.map { "\($0[0])-\($0[1] - 1)" }.joined(separator: " / "),
                                    pipeline.bubbleShare, Double(pipeline.bytesBetweenStages) / 1e6))
            }
            // With groups, whether the dealing kept every group busy: requests and rank-seconds per group.
            for group in distribution.perGroup where distribution.groups > 1 {
                lines.append(String(format: "  - group %ld (ranks %@): %ld requests; %.2f s computing, %.2f s waiting, "
                                    + "%.3f s communicating (summed over its ranks)", group.group,
                                    group.ranks.map(String.init).joined(separator: ", "), group.requests,
                                    group.computeSeconds, group.waitSeconds, group.communicationSeconds))
            }
        }
        if let finetune {
            lines += ["", "## Recovery", "",
                      String(format: "- LoRA fine-tuning: %ld steps of %ld examples (%ld training, %ld held out), %ld tokens in %.0f s "
                             + "(%.0f tokens/s) on %ld ranks", finetune.steps, finetune.batch, finetune.trainExamples,
                             finetune.heldOutExamples, finetune.tokens, finetune.seconds, finetune.tokensPerSecond, finetune.ranks),
                      "- training loss: first step " + loss(finetune.losses.first) + ", last " + loss(finetune.losses.last),
                      "- held-out loss: " + loss(finetune.heldOutLossBefore) + " before, " + loss(finetune.heldOutLossAfter) + " after"]
            if let pipeline = finetune.pipeline {
                lines.append(String(format: "- pipelined (GPipe): %ld stages x %ld replicas, blocks %@; bubble share %.2f, %.2f MB between stages per step",
                                    pipeline.stages, pipeline.replicas,
                                    pipeline.stageBlocks.map { "\($0[0])-\($0[1] - 1)" }.joined(separator: " / "),
                                    pipeline.bubbleShare, Double(finetune.bytesBetweenStagesPerStep ?? 0) / 1e6))
            }
        }
        if let latency { lines += [""] + latency.markdown() }
        if let evaluation {
            lines += ["", "## Dense, pruned and recovered", ""] + evaluation.markdown()
                + ["", "![perplexity against compression](\(EvaluationReport.perplexityPlotName))"]
        }
        // With a lookahead, the objectives after the greedy steps are what chose each step.
        let lookahead = settings.lookahead > 0
            ? ["depth after \(settings.lookahead)", "width after \(settings.lookahead)"] : []
        let header = ["iteration", "step", "depth loss", "width loss", "depth block", "width budget", "parameters",
                      "compression", "non-embedding compression", "seconds"] + lookahead
        lines += [
            "",
            "## Iterations", "",
            "| " + header.joined(separator: " | ") + " |",
            "|---:|:---:|" + String(repeating: "---:|", count: header.count - 2),
        ]
        for record in iterations {
            var cells = ["\(record.iteration)", record.branch, loss(record.depthLoss), loss(record.widthLoss),
                         record.depthBlock.map(String.init) ?? "-", record.widthBudget.map(String.init) ?? "-",
                         "\(record.parameters)", percent(record.compression), percent(record.nonEmbeddingCompression),
                         String(format: "%.2f", record.seconds)]
            if !lookahead.isEmpty { cells += [loss(record.depthLookahead), loss(record.widthLookahead)] }
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        if let beam { lines += [""] + BeamReport.markdown(beam, winner: path) }
        lines += ["", "## Loss along the path", "", "![calibration loss](\(Self.lossPlotName))", "", "```"] + lossPlot() + ["```", ""]
        return lines.joined(separator: "\n")
    }

    /// One bar per iteration: the chosen candidate's loss, scaled between the smallest and largest loss of the run.
    func lossPlot() -> [String] {
        let chosen = iterations.map { $0.branch == "L" ? $0.depthLoss : $0.widthLoss }
        let values = chosen.compactMap { $0 }
        guard let low = values.min(), let high = values.max() else { return ["(no losses)"] }
        let width = 40
        return zip(iterations, chosen).map { record, value in
            let label = String(format: "%6.2f%% %@", record.compression * 100, record.branch)
            guard let value else { return label + " |" }
            let length = high > low ? 1 + Int(Double(width - 1) * (value - low) / (high - low)) : width
            return label + " |" + String(repeating: "#", count: length) + String(format: " %.4f", value)
        }
    }
}
