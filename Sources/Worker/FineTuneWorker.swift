import Shared

/// Hyper-parameters of a LoRA recovery run (defaults in docs/design.md#lora: r=8, alpha=16, dropout 0.05, lr 3e-4,
/// batch 16).
public struct FineTuneSettings: Equatable, Sendable {
    public var lora: LoRAConfig
    public var learningRate: Float
    /// Examples per optimizer step over all ranks (micro-batch x accumulation x ranks).
    public var batchSize: Int
    /// Examples per forward/backward call on one rank.
    public var microBatch: Int
    public var totalSteps: Int
    public var warmupSteps: Int
    public var weightDecay: Double
    public var maxGradientNorm: Float
    /// Every this many steps the ranks compare a checksum of their parameters.
    public var checksumInterval: Int
    public var seed: UInt64
    /// Whether a step keeps every block's activations or recomputes them in the backward (one process or data
    /// parallel; pipeline stages always recompute).
    public var activationMemory: ActivationMemory

    public init(lora: LoRAConfig = LoRAConfig(), learningRate: Float = 3e-4, batchSize: Int = 16, microBatch: Int = 4,
                totalSteps: Int, warmupSteps: Int = 0, weightDecay: Double = 0, maxGradientNorm: Float = 1,
                checksumInterval: Int = 10, seed: UInt64 = 0, activationMemory: ActivationMemory = .recompute) {
        self.lora = lora
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.microBatch = microBatch
        self.totalSteps = totalSteps
        self.warmupSteps = warmupSteps
        self.weightDecay = weightDecay
        self.maxGradientNorm = maxGradientNorm
        self.checksumInterval = checksumInterval
        self.seed = seed
        self.activationMemory = activationMemory
    }
}

/// Data-parallel LoRA training: every rank holds the whole (frozen) model and the same adapters, works on its
/// token-balanced share of each global batch, and the ranks sum one flat gradient buffer per step, so that clipping
/// and AdamW see the same numbers everywhere and the replicas stay identical.
/// With a pipeline layout (`--stages`) a rank is one stage of one replica: it holds its stage's part of the model, its
/// blocks' adapters and their AdamW moments; the replica's share of the batch flows through its stages
/// (`PipelinedLoRATrainer`), the replicas of a stage sum that stage's gradients, and clipping takes the norm over all
/// stages (one allreduce of a sum of squares).
public struct FineTuneWorker {
    /// What one optimizer step measured (the same on every rank).
    public struct Step: Equatable, Sendable {
        /// Mean NLL per target token over the global batch (with dropout, as trained).
        public var loss: Double
        public var targets: Int
        public var tokens: Int
        /// Global gradient norm before clipping.
        public var gradientNorm: Double
        public var learningRate: Float
    }

    public let model: ModelWeights
    public private(set) var adapters: LoRAAdapters
    public let settings: FineTuneSettings
    public private(set) var step = 0
    private var optimizer: AdamW
    private let schedule: LinearSchedule
    private let communicator: any Communicator
    /// This rank's pipeline stage (nil: the rank holds the whole model).
    private var stage: PipelineStage?
    /// The ranks holding the same adapters as this one (all ranks, or the replicas of this stage), which sum their
    /// gradients.
    private let replicas: any Communicator
    /// Which share of each batch this rank's replica takes, of how many.
    private let replica: Int, replicaCount: Int
    /// Seconds in `train` and `evaluate`, for the pipeline report's bubble.
    public private(set) var seconds = 0.0
    /// The model's file, named when a step's loss overflows (`ForwardOverflow`).
    private let file: String

    /// `adapters` are the whole model's (every rank draws the same); with a pipeline `layout` of more than one stage
    /// the rank keeps its stage's and `model` need only hold the stage's part: `part`, by default the layout's.
    public init(model: ModelWeights, adapters: LoRAAdapters, settings: FineTuneSettings, file: String,
                communicator: any Communicator, layout: PipelineLayout? = nil, part: ModelPart? = nil) throws {
        try settings.lora.validate(file: nil)
        guard settings.batchSize >= 1, settings.microBatch >= 1, settings.totalSteps >= 1, settings.warmupSteps >= 0,
              settings.checksumInterval >= 1, settings.learningRate.isFinite, settings.learningRate > 0 else {
            throw MopError("fine-tuning settings out of range: batch \(settings.batchSize), micro-batch \(settings.microBatch), steps \(settings.totalSteps), warm-up \(settings.warmupSteps), lr \(settings.learningRate)")
        }
        self.model = model
        self.settings = settings
        self.communicator = communicator
        self.file = file
        if let layout, layout.stages > 1 {
            let stage = PipelineStage(layout: layout, part: part ?? layout.parts(model.config)[layout.stage(ofRank: communicator.rank)],
                                      communicator: communicator)
            self.stage = stage
            self.adapters = adapters.restricted(to: stage.part.blocks)
            replicas = communicator.split(color: layout.stage(ofRank: communicator.rank), key: communicator.rank)
            (replica, replicaCount) = (layout.replica(ofRank: communicator.rank), layout.replicas)
        } else {
            self.adapters = adapters
            replicas = communicator
            (replica, replicaCount) = (communicator.rank, communicator.size)
        }
        optimizer = AdamW(parameterCount: self.adapters.layout.count, weightDecay: settings.weightDecay)
        schedule = LinearSchedule(peak: settings.learningRate, totalSteps: settings.totalSteps, warmupSteps: settings.warmupSteps)
    }

    /// One optimizer step on the global batch `examples` (identical on every rank). This rank's share (its replica's)
    /// goes through in micro-batches whose gradients are scaled by the global target count, so their sum over
    /// micro-batches and replicas is the gradient of the global mean loss.
    public mutating func train(on examples: [InstructionExample]) throws -> Step {
        let start = ContinuousClock.now
        defer { seconds += Shared.seconds(since: start) }
        let globalTargets = examples.reduce(0) { $0 + $1.targetCount }
        let shard = Sharding.range(costs: examples.map(\.tokens.count), rank: replica, size: replicaCount)
        var micros: [PipelinedLoRATrainer.MicroBatch] = []
        for first in stride(from: shard.lowerBound, to: shard.upperBound, by: settings.microBatch) {
            let micro = examples[first..<min(first + settings.microBatch, shard.upperBound)]
            // Dropout masks differ per step and per micro-batch (named by its first example's place in the batch).
            // They follow the micro-batch layout, so only without dropout do different rank counts give equal steps.
            let seed = settings.seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(first) &* 0xBF58_476D_1CE4_E5B9
            micros.append(.init(batch: micro.map(\.tokens), lossMask: micro.map(\.lossMask),
                                dropoutSeed: settings.lora.dropout > 0 ? seed : nil))
        }
        var share: PipelinedLoRATrainer.Result
        if var stage {
            share = try PipelinedLoRATrainer.lossAndGradients(model: model, adapters: adapters, stage: &stage,
                                                              microBatches: micros, normalizer: max(globalTargets, 1))
            self.stage = stage
        } else {
            share = .init(negativeLogLikelihood: 0, targets: 0, gradients: [Float](repeating: 0, count: adapters.layout.count))
            for micro in micros {
                let result = try LoRATrainer.accumulateGradients(
                    model: model, adapters: adapters, batch: micro.batch, lossMask: micro.lossMask,
                    dropoutSeed: micro.dropoutSeed, normalizer: max(globalTargets, 1),
                    activations: settings.activationMemory, into: &share.gradients)
                share.negativeLogLikelihood += result.negativeLogLikelihood
                share.targets += result.targets
            }
        }
        var gradients: [Float] = []
        swap(&gradients, &share.gradients)  // one buffer, not a copy on the first write
        replicas.allreduceSum(&gradients)
        // Only the last stage of each replica scores: the sum over every rank is the batch's.
        var sums = [share.negativeLogLikelihood, Double(share.targets)]
        communicator.allreduceSum(&sums)
        // Every rank counted the global targets from its own copy of the batch: the shares must add up to it.
        guard sums[1] == Double(globalTargets) else {
            throw MopError("ranks disagree on step \(step)'s batch: their shares hold \(Int(sums[1])) targets, the batch \(globalTargets)")
        }
        // The summed loss is the same on every rank, so all stop together, before NaN gradients reach the adapters.
        try ForwardOverflow.check(sums[0], file: file, at: "fine-tuning step \(step + 1)")

        let norm: Double
        if stage == nil {
            norm = GradientClipping.clip(&gradients, maxNorm: settings.maxGradientNorm)
        } else {
            // Each stage's squares once (from its first replica): their sum is the whole gradient's squared norm.
            var squares = [replica == 0 ? GradientClipping.sumOfSquares(gradients) : 0]
            communicator.allreduceSum(&squares)
            norm = squares[0].squareRoot()
            GradientClipping.clip(&gradients, norm: norm, maxNorm: settings.maxGradientNorm)
        }
        let rate = schedule.learningRate(at: step)
        optimizer.update(&adapters.parameters, gradients: gradients, learningRate: rate)
        step += 1
        if step % settings.checksumInterval == 0 || step == settings.totalSteps { try checkReplicas() }
        return Step(loss: sums[0] / Double(max(globalTargets, 1)), targets: globalTargets,
                    tokens: examples.reduce(0) { $0 + $1.tokens.count }, gradientNorm: norm, learningRate: rate)
    }

    /// Mean NLL per target token of `examples` with the current adapters and no dropout, sharded over the replicas
    /// (through the stages of each); nil when there is nothing to score.
    /// `progress`, when given, labels a progress line of rank 0's shard (minutes on a 1.5B model).
    public mutating func evaluate(_ examples: [InstructionExample], progress: String? = nil) throws -> Double? {
        let start = ContinuousClock.now
        defer { seconds += Shared.seconds(since: start) }
        let shard = Sharding.range(costs: examples.map(\.tokens.count), rank: replica, size: replicaCount)
        let reporter = ProgressReporter(progress ?? "", total: shard.count, unit: "examples",
                                        enabled: progress != nil && communicator.isCoordinator)
        var sums = [0.0, 0.0]
        for first in stride(from: shard.lowerBound, to: shard.upperBound, by: settings.microBatch) {
            reporter.update(first - shard.lowerBound)
            let micro = examples[first..<min(first + settings.microBatch, shard.upperBound)]
            let result: (negativeLogLikelihood: Double, targets: Int)
            if var stage {
                result = try PipelinedLoRATrainer.negativeLogLikelihood(
                    model: model, adapters: adapters, stage: &stage,
                    microBatches: [.init(batch: micro.map(\.tokens), lossMask: micro.map(\.lossMask), dropoutSeed: nil)])
                self.stage = stage
            } else {
                result = try LoRATrainer.negativeLogLikelihood(model: model, adapters: adapters, batch: micro.map(\.tokens),
                                                               lossMask: micro.map(\.lossMask))
            }
            sums[0] += result.negativeLogLikelihood
            sums[1] += Double(result.targets)
        }
        reporter.update(shard.count)
        communicator.allreduceSum(&sums)
        try ForwardOverflow.check(sums[0], file: file, at: "the held-out examples")
        return sums[1] > 0 ? sums[0] / sums[1] : nil
    }

    /// The whole model's adapters on every rank (a collective): this rank's own, or with pipeline stages every
    /// stage's put together (each stage's first replica fills its span of a zero buffer, and a sum adds zeros only).
    public func wholeAdapters() -> LoRAAdapters {
        guard let stage else { return adapters }
        let layout = LoRALayout(config: adapters.config, model: model.config)
        var parameters = [Float](repeating: 0, count: layout.count)
        if replica == 0 { parameters.replaceSubrange(layout.span(of: stage.part.blocks), with: adapters.parameters) }
        communicator.allreduceSum(&parameters)
        return LoRAAdapters(config: adapters.config, layout: layout, parameters: parameters)
    }

    /// What this rank's pipeline links saw (nil without stages).
    public var link: StageLink? { stage?.link }

    /// This rank's stage's part of the model (nil without stages).
    public var part: ModelPart? { stage?.part }

    /// Float64 sum of the parameters, weighted by position so that swapped values also show.
    public var checksum: Double {
        var total = 0.0
        for (i, value) in adapters.parameters.enumerated() { total += Double(value) * Double(i % 1021 + 1) }
        return total
    }

    /// Fails when the parameters of the ranks holding the same adapters have drifted apart (they must be
    /// bit-identical: every such rank applies the same summed gradients). Each rank puts its checksum in its own slot of a zero vector, so the sum over ranks gathers
    /// them all exactly (adding zeros rounds nothing) and they can be compared for equality.
    public func checkReplicas() throws {
        var all = [Double](repeating: 0, count: replicas.size)
        all[replicas.rank] = checksum
        replicas.allreduceSum(&all)
        guard all.allSatisfy({ $0 == all[0] }) else {
            throw MopError("LoRA parameters differ between ranks after step \(step): checksums \(all)")
        }
    }
}
