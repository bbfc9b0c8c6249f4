/// `LoRATrainer` for one pipeline stage (`--stages`): the stage holds its blocks' weights and adapters only, and the
/// micro-batches of a step flow through the stages of a replica in a GPipe schedule (docs/design.md#pipelined-lora):
/// every micro-batch forward first (the first stage embeds, each stage runs its blocks and sends its output on, the
/// last keeps its output), then every micro-batch backward in the same order (the last stage applies the loss head,
/// each stage runs its blocks' backward from the gradient the next one sent and sends the gradient of its input
/// back). A stage keeps, per micro-batch, only the residual streams entering its blocks ([N, D] each) and recomputes
/// a block's activations in its backward, as `LoRATrainer` does; each micro-batch's gradients add into one buffer in
/// the order `LoRATrainer.accumulateGradients` adds them, so a stage's gradients are the unsharded ones of its adapters.
public enum PipelinedLoRATrainer {
    /// One forward/backward call's examples, as `LoRATrainer.lossAndGradients` takes them.
    public struct MicroBatch: Sendable {
        public var batch: [[Int32]]
        public var lossMask: [[Bool]]
        /// Seeds this micro-batch's dropout masks; nil trains without dropout.
        public var dropoutSeed: UInt64?

        public init(batch: [[Int32]], lossMask: [[Bool]], dropoutSeed: UInt64?) {
            self.batch = batch
            self.lossMask = lossMask
            self.dropoutSeed = dropoutSeed
        }
    }

    /// A stage's share of a step: the summed NLL and target count (non-zero on the last stage only) and the
    /// gradients of the stage's adapters (the stage's layout).
    public struct Result: Sendable {
        public var negativeLogLikelihood: Double
        public var targets: Int
        public var gradients: [Float]

        public init(negativeLogLikelihood: Double, targets: Int, gradients: [Float]) {
            self.negativeLogLikelihood = negativeLogLikelihood
            self.targets = targets
            self.gradients = gradients
        }
    }

    /// Every stage of a replica calls this with the same `microBatches`; `model` must hold the stage's part and
    /// `adapters` the stage's adapters (`LoRAAdapters.restricted(to:)` of its blocks). `normalizer` divides every
    /// loss, as in `LoRATrainer` (the step's global target count).
    public static func lossAndGradients(model: ModelWeights, adapters: LoRAAdapters, stage: inout PipelineStage,
                                        microBatches: [MicroBatch], normalizer: Int) throws -> Result {
        for micro in microBatches {
            try LoRATrainer.validate(model: model, adapters: adapters, blocks: stage.part.blocks, batch: micro.batch,
                                     lossMask: micro.lossMask, normalizer: normalizer)
        }
        let transformer = Transformer(weights: model), d = model.config.hidden
        // Forward: each micro-batch's residual streams entering the stage's blocks, and on the last stage its output.
        var stash: [[[Float]]] = []
        for micro in microBatches {
            let blocks = LoRATrainer.trainingBlocks(transformer, layers: stage.part.blocks, adapters: adapters,
                                                    dropoutSeed: micro.dropoutSeed)
            var streams = LoRATrainer.forward(blocks, input: try stage.input(transformer, batch: micro.batch),
                                              segments: Transformer.segments(micro.batch), parameters: adapters.parameters)
            if !stage.isLast { stage.send(streams.removeLast()) }
            stash.append(streams)
        }
        // Backward, micro-batch by micro-batch in the forward's order.
        var result = Result(negativeLogLikelihood: 0, targets: 0, gradients: [Float](repeating: 0, count: adapters.layout.count))
        for (micro, streams) in zip(microBatches, stash) {
            var streams = streams
            let segments = Transformer.segments(micro.batch), rows = segments.last?.upperBound ?? 0
            let gradient: [Float]
            if stage.isLast {
                let targets = LoRATrainer.maskedTargets(batch: micro.batch, lossMask: micro.lossMask, segments: segments)
                let head = LoRATrainer.lossHead(transformer, final: streams.removeLast(), targets: targets, divisor: normalizer)
                result.negativeLogLikelihood += head.negativeLogLikelihood
                result.targets += targets.count
                gradient = head.gradient
            } else {
                gradient = try stage.receiveGradient(rows: rows, hidden: d)
            }
            let blocks = LoRATrainer.trainingBlocks(transformer, layers: stage.part.blocks, adapters: adapters,
                                                    dropoutSeed: micro.dropoutSeed)
            stage.sendGradient(LoRATrainer.backward(blocks, inputs: streams, gradient: gradient, segments: segments,
                                                    parameters: adapters.parameters, into: &result.gradients))
        }
        return result
    }

    /// The summed NLL of the masked-in targets and their count (non-zero on the last stage only), forward only and
    /// without dropout, as `LoRATrainer.negativeLogLikelihood` gives them; each micro-batch flows through the stages.
    public static func negativeLogLikelihood(model: ModelWeights, adapters: LoRAAdapters, stage: inout PipelineStage,
                                             microBatches: [MicroBatch]) throws -> (negativeLogLikelihood: Double, targets: Int) {
        let transformer = Transformer(weights: model)
        var total = 0.0, count = 0
        for micro in microBatches {
            try LoRATrainer.validate(model: model, adapters: adapters, blocks: stage.part.blocks, batch: micro.batch,
                                     lossMask: micro.lossMask, normalizer: nil)
            let segments = Transformer.segments(micro.batch)
            var x = try stage.input(transformer, batch: micro.batch)
            for block in LoRATrainer.trainingBlocks(transformer, layers: stage.part.blocks, adapters: adapters, dropoutSeed: nil) {
                block.forward(&x, segments: segments, parameters: adapters.parameters, recording: false)
            }
            guard stage.isLast else {
                stage.send(x)
                continue
            }
            let targets = LoRATrainer.maskedTargets(batch: micro.batch, lossMask: micro.lossMask, segments: segments)
            total += LoRATrainer.negativeLogLikelihood(transformer, final: x, targets: targets)
            count += targets.count
        }
        return (total, count)
    }
}
