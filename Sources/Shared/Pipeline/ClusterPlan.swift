/// `mop plan`: how a cluster of `nodes` nodes (one rank per node, `coresPerNode` BLAS threads each) would run a model,
/// predicted from the model's shapes and stored bytes and from rates measured on this machine. A documented model,
/// not a simulation:
///
/// - Layout: the fewest pipeline stages S (dividing the nodes) whose largest stage fits `memoryPerNode`; replicas
///   R = nodes / S.
/// - Memory of a stage's rank: its weights as stored (`ModelPart.bytesHeld`), plus what any mop process holds
///   (`Costs.processBytes`), plus one window's activations: [T, 8D + max(3I, 3 H hd)] floats, the scores of one
///   head's query block (`Attention.scratchCount`), a 64-row chunk of logits [64, V] on the last stage and one decoded 4 MB weight panel per thread.
/// - Time of a window on a stage: its forward FLOPs (every product of `ForwardBenchmark.products` of its blocks, the
///   output matrix's on the last stage) at the node's forward rate (`Costs.coreGflops` x cores), plus sending its
///   activations [T, D] fp32 to the next stage (`Costs.linkBytesPerSecond`, `Costs.linkLatency`).
/// - A pipeline of S stages runs M windows in (M + S - 1) x the slowest stage's window time (the bubble); replicas
///   split the windows evenly.
/// - A MoP iteration is four forward passes over the calibration tokens, what the greedy search asks: AMP statistics
///   and block influence (no output matrix) and the depth and the width candidate's losses (with it). Each is
///   sharded over the replicas and runs through the stages in the search's micro-batches
///   (`PipelineLayout.microBatchTokens`) of calibration sequences of `calibrationSequenceTokens` tokens:
///   (shard / micro-batch + S - 1) micro-batch times of the slowest stage. A micro-batch's products run at the rate
///   `searchGflops` gives for its size (small products of quantized weights are slower per FLOP: the weights are
///   decoded once per product). The observers' own work and the surgery are left out. A run is one iteration per
///   block's worth of parameters removed.
public struct ClusterPlan: Encodable, Sendable {
    /// The cluster.
    public struct Machine: Encodable, Sendable {
        public let nodes: Int
        public let memoryPerNode: Int
        public let coresPerNode: Int

        public init(nodes: Int, memoryPerNode: Int, coresPerNode: Int) {
            (self.nodes, self.memoryPerNode, self.coresPerNode) = (nodes, memoryPerNode, coresPerNode)
        }
    }

    /// Rates and constants the predictions use.
    public struct Costs: Encodable, Sendable {
        /// Forward-pass GFLOP/s of one core (sgemm measured here, times the forward pass's share of it).
        public let coreGflops: Double
        /// Resident bytes of a mop process before any weight or activation (runtime, MPI, BLAS, tokenizer).
        public let processBytes: Int
        public let linkBytesPerSecond: Double
        public let linkLatency: Double

        public init(coreGflops: Double, processBytes: Int = 35_000_000, linkBytesPerSecond: Double = 1.25e9,
                    linkLatency: Double = 50e-6) {
            (self.coreGflops, self.processBytes, self.linkBytesPerSecond) = (coreGflops, processBytes, linkBytesPerSecond)
            self.linkLatency = linkLatency
        }
    }

    /// One stage's share.
    public struct Stage: Encodable, Sendable {
        public let blocks: [Int]
        public let weightBytes: Int
        public let residentBytes: Int
        /// A window of `seqLen` tokens (evaluation).
        public let windowSeconds: Double
        /// A micro-batch of the search with the output matrix (losses) and without it (statistics passes).
        public let microBatchSeconds: Double
        public let statisticsMicroBatchSeconds: Double
    }

    public let machine: Machine
    public let costs: Costs
    public let seqLen: Int
    public let stages: [Stage]
    public let replicas: Int
    /// Seconds to score `perplexityTokens` tokens (`mop eval --ppl`).
    public let perplexityTokens: Int
    public let perplexitySeconds: Double
    /// The pipeline's idle share for that evaluation.
    public let bubbleShare: Double
    public let calibrationTokens: Int
    public let calibrationSequenceTokens: Int
    /// The search's micro-batch and the forward rate of one core on it.
    public let microBatchTokens: Int
    public let searchCoreGflops: Double
    public let iterationSeconds: Double
    public let iterations: Int
    public let runSeconds: Double

    /// `weightBytes(part)`: the bytes a stage holding `part` keeps of the weights (exact for a real file).
    /// `searchGflops(tokens)`: one core's forward rate on a micro-batch of that many tokens (`costs.coreGflops` if
    /// not given).
    public init(config: ModelConfig, weightBytes: (ModelPart) -> Int, machine: Machine, costs: Costs, seqLen: Int,
                perplexityTokens: Int, calibrationTokens: Int, calibrationSequenceTokens: Int, target: Double,
                searchGflops: ((Int) -> Double)? = nil) throws {
        let blocks = config.layers.count
        var fitting: (stages: [Stage], microBatch: Int, rate: Double)?
        for count in (1...min(machine.nodes, blocks)) where machine.nodes % count == 0 {
            let layout = try PipelineLayout(stages: count, ranks: count, blocks: blocks)
            let microBatch = PipelineLayout.microBatchTokens(shardTokens: calibrationTokens / (machine.nodes / count), stages: count)
            let rate = searchGflops?(microBatch) ?? costs.coreGflops
            let stages = layout.parts(config).map {
                Self.stage($0, config: config, weightBytes: weightBytes($0), machine: machine, costs: costs, seqLen: seqLen,
                           microBatch: microBatch, sequenceTokens: calibrationSequenceTokens, searchGflops: rate)
            }
            if stages.allSatisfy({ $0.residentBytes <= machine.memoryPerNode }) {
                fitting = (stages, microBatch, rate)
                break
            }
        }
        guard let (stages, microBatch, searchRate) = fitting else {
            throw MopError("the model does not fit: split into as many as \(min(machine.nodes, blocks)) stages, a stage still needs more than \(machine.memoryPerNode / 1_000_000) MB")
        }
        self.machine = machine
        self.costs = costs
        self.seqLen = seqLen
        self.stages = stages
        replicas = machine.nodes / stages.count
        self.perplexityTokens = perplexityTokens
        let slowest = stages.map(\.windowSeconds).max() ?? 0
        let windows = (perplexityTokens + seqLen - 1) / seqLen
        let perReplica = Double((windows + replicas - 1) / replicas)
        let pipelineWindows = perReplica + Double(stages.count - 1)
        perplexitySeconds = pipelineWindows * slowest
        bubbleShare = 1 - stages.reduce(0) { $0 + $1.windowSeconds } * perReplica / (Double(stages.count) * perplexitySeconds)
        self.calibrationTokens = calibrationTokens
        self.calibrationSequenceTokens = calibrationSequenceTokens
        microBatchTokens = microBatch
        searchCoreGflops = searchRate
        let microBatches = Double(calibrationTokens / replicas) / Double(microBatch)
        let passes = 2 * (stages.map(\.statisticsMicroBatchSeconds).max() ?? 0) + 2 * (stages.map(\.microBatchSeconds).max() ?? 0)
        iterationSeconds = (microBatches + Double(stages.count - 1)) * passes
        let perBlock = Double(config.nonEmbeddingParameters) / Double(max(1, blocks))
        iterations = Int((target * Double(config.parameters) / perBlock).rounded(.up))
        // The model shrinks as the run goes: on average it costs about what it does halfway.
        runSeconds = Double(iterations) * iterationSeconds * (1 - target / 2)
    }

    /// The prediction for one stage holding `part`.
    static func stage(_ part: ModelPart, config: ModelConfig, weightBytes: Int, machine: Machine, costs: Costs,
                      seqLen t: Int, microBatch: Int, sequenceTokens: Int, searchGflops: Double) -> Stage {
        var stageConfig = config
        stageConfig.layers = Array(config.layers[part.blocks])
        // The stage's products on `tokens` tokens in sequences of `length` at `gflops` a core (with the output matrix
        // on the last stage when `head`), and handing the activations on.
        func seconds(tokens: Int, length: Int, gflops: Double, head: Bool = part.head) -> Double {
            let products = ForwardBenchmark.blockProducts(stageConfig, tokens: length)
                + (head ? ForwardBenchmark.headProducts(config, tokens: length) : [])
            let flops = products.reduce(0) { $0 + $1.flops } * Double(tokens) / Double(length)
            let transfer = part.head ? 0 : costs.linkLatency + Double(tokens * config.hidden * 4) / costs.linkBytesPerSecond
            return flops / (gflops * 1e9 * Double(machine.coresPerNode)) + transfer
        }
        let length = max(2, min(sequenceTokens, microBatch))
        let widest = config.layers[part.blocks].map { max(3 * $0.intermediate, 3 * $0.heads * config.headDim) }.max() ?? 0
        let activations = 4 * (t * (8 * config.hidden + widest) + Attention.scratchCount(tokens: t) + (part.head ? 64 * config.vocabSize : 0))
        let panels = (4 << 20) * machine.coresPerNode
        return Stage(blocks: [part.blocks.lowerBound, part.blocks.upperBound], weightBytes: weightBytes,
                     residentBytes: weightBytes + costs.processBytes + activations + panels,
                     windowSeconds: seconds(tokens: t, length: t, gflops: costs.coreGflops),
                     microBatchSeconds: seconds(tokens: microBatch, length: length, gflops: searchGflops),
                     statisticsMicroBatchSeconds: seconds(tokens: microBatch, length: length, gflops: searchGflops, head: false))
    }
}
