import ArgumentParser
import Foundation
import Shared

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Predict how a cluster would run a model: pipeline layout, memory per rank, evaluation and MoP times.",
        discussion: "Predictions from the model's shapes and stored bytes and from forward passes timed on this machine (one core: the model's own first block as stored, at the window's and at the search's micro-batch size; an fp32 copy of the block shapes for a bare config.json); see ClusterPlan for the model. The layout is what `mop eval --stages` and `mop prune --stages` run.")

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

    /// Bounds far past any real cluster, so every size the plan computes from them fits its integers and doubles.
    static let maxNodes = 1 << 20, maxCores = 1 << 12, maxMemoryGB = 1e6, maxTokens = 1 << 40, maxRate = 1e6

    func validate() throws {
        func check(_ value: Double, _ name: String, in range: ClosedRange<Double>, open: Bool = true) throws {
            guard range.contains(value), !(open && value == range.lowerBound) else {
                throw ValidationError("\(name) \(value) is outside \(open ? "(" : "[")\(range.lowerBound), \(range.upperBound)]")
            }
        }
        guard (1...Self.maxNodes).contains(nodes) else { throw ValidationError("--nodes \(nodes) is outside 1...\(Self.maxNodes)") }
        guard (1...Self.maxCores).contains(coresPerNode) else {
            throw ValidationError("--cores-per-node \(coresPerNode) is outside 1...\(Self.maxCores)")
        }
        try check(memoryPerNode, "--memory-per-node", in: 0...Self.maxMemoryGB)
        try check(linkGbits, "--link-gbits", in: 0...Self.maxRate)
        guard target > 0, target < 1 else { throw ValidationError("--target must be between 0 and 1") }
        for (name, tokens) in [("--seq-len", seqLen), ("--perplexity-tokens", perplexityTokens),
                               ("--calibration-tokens", calibrationTokens), ("--calibration-sequence-tokens", calibrationSequenceTokens)] {
            guard (2...Self.maxTokens).contains(tokens) else { throw ValidationError("\(name) \(tokens) is outside 2...\(Self.maxTokens)") }
        }
        if let bytesPerParameter { try check(bytesPerParameter, "--bytes-per-parameter", in: 0...8) }
        if let coreGflops { try check(coreGflops, "--core-gflops", in: 1e-3...Self.maxRate, open: false) }
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
            RunSupport.printLine(String(format: "layout: %ld stages x %ld replicas (%ld nodes of %g GB, %ld cores; forward %.1f GFLOP/s per core)",
                                        plan.stages.count, plan.replicas, nodes, memoryPerNode, coresPerNode, costs.coreGflops))
            for (index, stage) in plan.stages.enumerated() {
                RunSupport.printLine(String(format: "stage %ld: blocks %ld-%ld, weights %.0f MB, resident %.0f MB, %.3f s per window",
                                            index, stage.blocks[0], stage.blocks[1] - 1, Double(stage.weightBytes) / 1e6,
                                            Double(stage.residentBytes) / 1e6, stage.windowSeconds))
            }
            RunSupport.printLine(String(format: "perplexity of %ld tokens: %.1f s (bubble %.2f)", plan.perplexityTokens,
                                        plan.perplexitySeconds, plan.bubbleShare))
            RunSupport.printLine(String(format: "MoP to %.0f%% over %ld calibration tokens (micro-batches of %ld, %.1f GFLOP/s per core): %.1f s per iteration, %ld iterations, %.0f s in all",
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
