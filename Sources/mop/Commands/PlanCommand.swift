import ArgumentParser
import Foundation
import Shared

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Predict how a cluster would run a model: pipeline layout, memory per rank, evaluation and MoP times.",
        discussion: "Predictions from the model's shapes and stored bytes and from a forward pass timed on this machine (one core, a scaled copy of the model's block shapes); see ClusterPlan for the model. MoP's search does not run pipelined yet: a layout with several stages predicts what it will take.")

    @Argument(help: "A GGUF file, a Hugging Face / mop output directory, or a config.json (with --bytes-per-parameter).")
    var model: String
    @Option(help: "Nodes, one rank each.") var nodes: Int
    @Option(help: "Memory per node, GB (10^9 bytes).") var memoryPerNode: Double
    @Option(help: "Cores per node (BLAS threads per rank).") var coresPerNode: Int
    @Option(help: "Compression target of the MoP run.") var target = 0.2
    @Option(help: "Tokens per window / calibration sequence.") var seqLen = 512
    @Option(help: "Tokens of the perplexity evaluation.") var perplexityTokens = 8192
    @Option(help: "Calibration tokens of the MoP run.") var calibrationTokens = 65536
    @Option(help: "Mean tokens of a calibration sequence (attention's cost; 35: the Alpaca prompts').")
    var calibrationSequenceTokens = 35
    @Option(help: "Stored bytes per weight for a config.json (e.g. 0.5625 for 4.5-bit K-quants, 2 for bf16).")
    var bytesPerParameter: Double?
    @Option(help: "Network bandwidth between nodes, Gbit/s.") var linkGbits = 10.0
    @Option(help: "Forward GFLOP/s of one core (default: timed here).") var coreGflops: Double?
    @Flag(help: "Print one JSON object on stdout.") var json = false

    func validate() throws {
        guard nodes >= 1, coresPerNode >= 1 else { throw ValidationError("--nodes and --cores-per-node must be at least 1") }
        guard memoryPerNode > 0, linkGbits > 0 else { throw ValidationError("--memory-per-node and --link-gbits must be positive") }
        guard target > 0, target < 1 else { throw ValidationError("--target must be between 0 and 1") }
        guard seqLen >= 2, perplexityTokens >= 2, calibrationTokens >= 2, calibrationSequenceTokens >= 2 else {
            throw ValidationError("--seq-len, --perplexity-tokens, --calibration-tokens and --calibration-sequence-tokens must be at least 2")
        }
        if let bytesPerParameter, bytesPerParameter <= 0 { throw ValidationError("--bytes-per-parameter must be positive") }
        if let coreGflops, coreGflops <= 0 { throw ValidationError("--core-gflops must be positive") }
    }

    func run() throws {
        RunSupport.run(threads: 1) { communicator in
            guard communicator.isCoordinator else { return }
            let (config, weightBytes, block) = try modelShape()
            guard seqLen <= config.maxPositions else {
                throw MopError(file: model, "--seq-len \(seqLen) is longer than the model's \(config.maxPositions) positions")
            }
            let machine = ClusterPlan.Machine(nodes: nodes, memoryPerNode: Int(memoryPerNode * 1e9), coresPerNode: coresPerNode)
            // A real model's own first block is timed (as stored); a bare config.json's shapes as an fp32 copy.
            // Timed once per token count: the window and the micro-batch often coincide, and the plan asks again for
            // every stage count it tries.
            var rates: [Int: Double] = [:]
            let rate = { (tokens: Int) -> Double in
                if let known = coreGflops ?? rates[tokens] { return known }
                let measured = block.map { ForwardRate.measure(block: $0, index: 0, tokens: tokens) }
                    ?? ForwardRate.measure(config, seqLen: tokens)
                rates[tokens] = measured
                return measured
            }
            let costs = ClusterPlan.Costs(coreGflops: rate(seqLen), linkBytesPerSecond: linkGbits * 1e9 / 8)
            let plan = try ClusterPlan(config: config, weightBytes: weightBytes, machine: machine, costs: costs,
                                       seqLen: seqLen, perplexityTokens: perplexityTokens,
                                       calibrationTokens: calibrationTokens, calibrationSequenceTokens: calibrationSequenceTokens,
                                       target: target, searchGflops: rate)
            if json { return try RunSupport.printJSON(plan) }
            RunSupport.printLine(String(format: "layout: %d stages x %d replicas (%d nodes of %g GB, %d cores; forward %.1f GFLOP/s per core)",
                                        plan.stages.count, plan.replicas, nodes, memoryPerNode, coresPerNode, costs.coreGflops))
            for (index, stage) in plan.stages.enumerated() {
                RunSupport.printLine(String(format: "stage %d: blocks %d-%d, weights %.0f MB, resident %.0f MB, %.3f s per window",
                                            index, stage.blocks[0], stage.blocks[1] - 1, Double(stage.weightBytes) / 1e6,
                                            Double(stage.residentBytes) / 1e6, stage.windowSeconds))
            }
            RunSupport.printLine(String(format: "perplexity of %d tokens: %.1f s (bubble %.2f)", plan.perplexityTokens,
                                        plan.perplexitySeconds, plan.bubbleShare))
            RunSupport.printLine(String(format: "MoP to %.0f%% over %d calibration tokens (micro-batches of %d, %.1f GFLOP/s per core): %.1f s per iteration, %d iterations, %.0f s in all",
                                        target * 100, plan.calibrationTokens, plan.microBatchTokens, plan.searchCoreGflops,
                                        plan.iterationSeconds, plan.iterations, plan.runSeconds))
        }
    }

    /// The config, the stored bytes a part holds: exact from a model's files (mapped, no tensor touched but the
    /// first block's, which is returned to be timed), or parameters x --bytes-per-parameter for a bare config.json.
    private func modelShape() throws -> (ModelConfig, (ModelPart) -> Int, ModelWeights?) {
        if model.hasSuffix(".json") {
            guard let bytesPerParameter else { throw MopError(file: model, "a config.json needs --bytes-per-parameter") }
            let config = try HFConfig.parse(data: try RegularFile.read(model), file: model)
            let shapes = ModelWeights.expectedShapes(config)
            return (config, { part in
                Int(Double(shapes.filter { part.holds($0.name, config: config) }.reduce(0) { $0 + $1.shape.reduce(1, *) }) * bytesPerParameter)
            }, nil)
        }
        guard bytesPerParameter == nil else {
            throw MopError(file: model, "--bytes-per-parameter is for a bare config.json; a model's stored bytes are read from its files")
        }
        let firstBlock = ModelPart(blocks: 0..<1, embeds: false, head: false)
        let weights = try ModelLoader.load(path: model, storage: .stored, part: firstBlock).weights
        return (weights.config, { $0.bytesHeld(weights) }, weights)
    }
}
