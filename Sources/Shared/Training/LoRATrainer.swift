/// Loss and LoRA gradients of a frozen model with adapters, on a batch of token sequences whose loss is restricted
/// to masked-in target tokens (the response tokens of instruction data).
///
/// Memory (`ActivationMemory`): with `recompute` (the default) the forward keeps only the residual stream entering
/// every block and the backward recomputes one block's activations at a time from it; with `keep` the forward records
/// every block and the backward reads the records (no second forward). Logits exist one chunk of
/// `NextTokenLoss.chunkRows` rows at a time. For SmolLM2-135M at 512 tokens (D=576, 30 layers, 9 heads, 3 KV heads,
/// I=1536, V=49152) recompute's peak of activations is about 85 MB: 31 residual streams of N*D floats (37 MB), one
/// block's activations (17 MB, plus 10 MB of dropped branch inputs when dropout is on), its gradient buffers (16 MB)
/// and two T*T attention scratch rows (2 MB); the loss head's 64 x V logits chunk (13 MB) is freed before the blocks
/// run backward. Keeping every block's activations takes about 0.9 GB. Measured (`mop bench-train`: peak resident
/// memory of a whole training step above the loaded model, the 10 MB gradient buffer and allocator slack included):
/// about 104 MB at 1 and at 2 threads with recompute.
public enum LoRATrainer {
    public struct Result: Sendable {
        /// Summed NLL of the masked-in targets divided by the normalizer (by default the number of such targets).
        public var loss: Double
        /// Summed NLL of the masked-in targets (float64).
        public var negativeLogLikelihood: Double
        /// Number of masked-in targets in the batch.
        public var targets: Int
        /// Gradients of `loss` with respect to the LoRA parameters.
        public var gradients: LoRAGradients
        /// Gradient of `loss` with respect to the first block's input [N, D] (the embeddings after the family's
        /// embedding scale; rows stacked as the batch), when asked for.
        /// The embedding table is frozen: this is not applied, it lets tests check the whole chain.
        public var inputGradient: [Float]?
    }

    /// Forward and backward over `batch`. `lossMask[b][t]` selects token t of sequence b as a target (predicted from
    /// tokens 0..<t), as Hugging Face labels do; position 0 is never a target. `dropoutSeed` (a fresh one per step)
    /// turns LoRA dropout on; nil trains without it. `normalizer` replaces the target count as the divisor, so that
    /// micro-batches and ranks can sum gradients of one global mean (pass the total target count of the step).
    /// With no target and no normalizer the loss and gradients are zero.
    public static func lossAndGradients(model: ModelWeights, adapters: LoRAAdapters, batch: [[Int32]], lossMask: [[Bool]],
                                        dropoutSeed: UInt64? = nil, normalizer: Int? = nil,
                                        inputGradient: Bool = false,
                                        activations: ActivationMemory = .recompute) throws -> Result {
        var gradients = [Float](repeating: 0, count: adapters.layout.count)
        let result = try pass(model: model, adapters: adapters, batch: batch, lossMask: lossMask, dropoutSeed: dropoutSeed,
                              normalizer: normalizer, activations: activations, into: &gradients)
        return Result(loss: result.divisor == 0 ? 0 : result.negativeLogLikelihood / Double(result.divisor),
                      negativeLogLikelihood: result.negativeLogLikelihood, targets: result.targets,
                      gradients: LoRAGradients(layout: adapters.layout, values: gradients),
                      inputGradient: inputGradient ? result.inputGradient : nil)
    }

    /// `lossAndGradients` adding the gradients into `gradients` (the adapters' layout), so that the micro-batches of a
    /// step share one buffer rather than each allocating its own (the size of the adapters: 37 MB for a 1.5B model
    /// at r = 8). Returns the summed NLL of the masked-in targets and their count.
    public static func accumulateGradients(model: ModelWeights, adapters: LoRAAdapters, batch: [[Int32]], lossMask: [[Bool]],
                                           dropoutSeed: UInt64?, normalizer: Int,
                                           activations: ActivationMemory = .recompute,
                                           into gradients: inout [Float]) throws -> (negativeLogLikelihood: Double, targets: Int) {
        precondition(gradients.count == adapters.layout.count, "LoRA gradients: \(gradients.count) floats, the layout holds \(adapters.layout.count)")
        let result = try pass(model: model, adapters: adapters, batch: batch, lossMask: lossMask, dropoutSeed: dropoutSeed,
                              normalizer: normalizer, activations: activations, into: &gradients)
        return (result.negativeLogLikelihood, result.targets)
    }

    /// The forward and backward of both.
    private static func pass(model: ModelWeights, adapters: LoRAAdapters, batch: [[Int32]], lossMask: [[Bool]],
                             dropoutSeed: UInt64?, normalizer: Int?, activations: ActivationMemory,
                             into gradients: inout [Float]) throws
        -> (negativeLogLikelihood: Double, targets: Int, divisor: Int, inputGradient: [Float]) {
        try validate(model: model, adapters: adapters, batch: batch, lossMask: lossMask, normalizer: normalizer)
        let segments = Transformer.segments(batch)
        let transformer = Transformer(weights: model)
        let blocks = trainingBlocks(transformer, layers: model.layers.indices, adapters: adapters, dropoutSeed: dropoutSeed)
        var (record, final) = forward(blocks, input: transformer.embed(batch), segments: segments,
                                      parameters: adapters.parameters, activations: activations)
        let targets = maskedTargets(batch: batch, lossMask: lossMask, segments: segments)
        let divisor = normalizer ?? targets.count
        // Kept activations already spend far more memory than a chunk of logits: chunks of up to
        // `NextTokenLoss.headLogitBytes` (SmolLM2: 682 rows) pack and decode the head a few times per step instead of
        // twice per 64 targets; recomputing keeps 64-row chunks, the least memory.
        var chunk = NextTokenLoss.chunkRows
        if case .passes = record {
            chunk = max(chunk, NextTokenLoss.headLogitBytes / (model.head.rows * MemoryLayout<Float>.size))
        }
        let head = lossHead(transformer, final: final, targets: targets, divisor: divisor, chunkRows: chunk)
        final = []
        let dx: [Float]
        switch record {
        case .streams(let streams):
            dx = backward(blocks, inputs: streams, gradient: head.gradient, segments: segments,
                          parameters: adapters.parameters, into: &gradients)
        case .passes(var passes):
            record = .streams([])  // the passes' only owner is now `passes`, so each frees as its backward ends
            dx = backward(kept: &passes, gradient: head.gradient, into: &gradients)
        }
        return (head.negativeLogLikelihood, targets.count, divisor, dx)
    }

    /// What a training forward leaves for the backward: the residual stream entering every block (recompute) or
    /// every block's recorded pass (keep).
    enum ForwardRecord {
        case streams([[Float]])
        case passes([BlockPass<TrainingHooks>])
    }

    /// Runs `blocks` from `input` [N, D] keeping what `activations` says; returns that and the last block's output
    /// [N, D]. `auto` records the first block and decides from its bytes (`ActivationMemory.keeps`).
    static func forward(_ blocks: [TrainingBlock], input: [Float], segments: [Range<Int>], parameters: [Float],
                        activations: ActivationMemory) -> (record: ForwardRecord, final: [Float]) {
        var x = input
        guard activations != .recompute, let first = blocks.first else {
            var streams = forward(blocks, input: x, segments: segments, parameters: parameters)
            let final = streams.removeLast()
            return (.streams(streams), final)
        }
        var passes = [first.forward(&x, segments: segments, parameters: parameters)]
        guard activations.keeps(blockBytes: passes[0].heldBytes, blocks: blocks.count,
                                available: activations == .auto ? AvailableMemory.bytes() ?? 0 : 0) else {
            var streams = [passes[0].value(0)]
            passes = []
            streams += forward(Array(blocks.dropFirst()), input: x, segments: segments, parameters: parameters)
            let final = streams.removeLast()
            return (.streams(streams), final)
        }
        for block in blocks.dropFirst() { passes.append(block.forward(&x, segments: segments, parameters: parameters)) }
        return (.passes(passes), x)
    }

    /// The training blocks of `layers` with `adapters` (which hold at least those layers' adapters).
    static func trainingBlocks(_ transformer: Transformer, layers: Range<Int>, adapters: LoRAAdapters,
                               dropoutSeed: UInt64?) -> [TrainingBlock] {
        layers.map { TrainingBlock(model: transformer, layer: $0, adapters: adapters, dropoutStep: dropoutSeed) }
    }

    /// Runs `blocks` from `input` [N, D], keeping only the residual stream entering each block and the last one:
    /// blocks.count + 1 arrays of [N, D].
    static func forward(_ blocks: [TrainingBlock], input: [Float], segments: [Range<Int>], parameters: [Float]) -> [[Float]] {
        var streams = [input]
        for block in blocks {
            var x = streams.last!
            block.forward(&x, segments: segments, parameters: parameters, recording: false)
            streams.append(x)
        }
        return streams
    }

    /// The loss head on the last residual stream `final` [N, D]: final norm, then logits and cross-entropy chunk by
    /// chunk of at most `chunkRows` targets. Returns the summed NLL of `targets` and the gradient [N, D] of that sum /
    /// `divisor` with respect to `final`.
    static func lossHead(_ transformer: Transformer, final: [Float], targets: [NextTokenLoss.Target], divisor: Int,
                         chunkRows: Int = NextTokenLoss.chunkRows) -> (negativeLogLikelihood: Double, gradient: [Float]) {
        let d = transformer.config.hidden
        let hidden = transformer.finalNorm(final)
        var dHidden = [Float](repeating: 0, count: hidden.count)
        var total = 0.0
        let output = transformer.weights.head
        NextTokenLoss.forEachChunk(of: targets, rows: chunkRows) { chunk in
            var logits = NextTokenLoss.logits(hidden: hidden, targets: chunk, output: output)  // [c, V]
            let capped = output.softCap == nil ? [] : logits
            let losses = CrossEntropy.lossAndGradient(&logits, vocab: output.rows, targets: chunk.map(\.token),
                                                      weight: 1 / Float(max(divisor, 1)))
            output.backward(logits: capped, dLogits: &logits)
            total += losses.reduce(0, +)
            // dRows[c, D] = dLogits[c, V] . E[V, D]; scattered back to the rows the targets came from.
            var dRows = [Float](repeating: 0, count: chunk.count * d)
            BLAS.multiply(logits, rows: chunk.count, by: output.matrix, into: &dRows, accumulate: false)
            for (i, target) in chunk.enumerated() {
                for j in 0..<d { dHidden[target.row * d + j] += dRows[i * d + j] }
            }
        }
        return (total, transformer.finalNormBackward(dHidden, input: final))
    }

    /// Backward through `blocks`, last first, recomputing each block's recorded forward from its input
    /// (`inputs[i]` entered `blocks[i]`): the LoRA gradients add into `gradients` and the gradient [N, D] of the
    /// first block's input comes back, given `gradient` [N, D] of the last block's output.
    static func backward(_ blocks: [TrainingBlock], inputs: [[Float]], gradient: [Float], segments: [Range<Int>],
                         parameters: [Float], into gradients: inout [Float]) -> [Float] {
        var dx = gradient
        for (block, input) in zip(blocks, inputs).reversed() {
            var x = input
            var pass = block.forward(&x, segments: segments, parameters: parameters)
            dx = pass.backward(dx, gradients: &gradients)
        }
        return dx
    }

    /// Backward through kept block passes, last first, each freed as soon as its backward is done: the LoRA gradients
    /// add into `gradients` and the gradient [N, D] of the first block's input comes back, given `gradient` [N, D] of
    /// the last block's output.
    static func backward(kept passes: inout [BlockPass<TrainingHooks>], gradient: [Float],
                         into gradients: inout [Float]) -> [Float] {
        var dx = gradient
        while var pass = passes.popLast() { dx = pass.backward(dx, gradients: &gradients) }
        return dx
    }

    /// The summed NLL of the masked-in targets and their count, forward only: the loss `lossAndGradients` reports
    /// without dropout, at about a third of its cost (no recompute, no backward), for held-out evaluation. One
    /// block's activations are alive at a time.
    public static func negativeLogLikelihood(model: ModelWeights, adapters: LoRAAdapters, batch: [[Int32]],
                                             lossMask: [[Bool]]) throws -> (negativeLogLikelihood: Double, targets: Int) {
        try validate(model: model, adapters: adapters, batch: batch, lossMask: lossMask, normalizer: nil)
        let segments = Transformer.segments(batch)
        let transformer = Transformer(weights: model)
        var x = transformer.embed(batch)  // [N, D]
        for layer in model.layers.indices {
            let block = TrainingBlock(model: transformer, layer: layer, adapters: adapters, dropoutStep: nil)
            block.forward(&x, segments: segments, parameters: adapters.parameters, recording: false)
        }
        let targets = maskedTargets(batch: batch, lossMask: lossMask, segments: segments)
        return (negativeLogLikelihood(transformer, final: x, targets: targets), targets.count)
    }

    /// The summed NLL of `targets` from the last residual stream `final` [N, D] (final norm, then the head).
    static func negativeLogLikelihood(_ transformer: Transformer, final: [Float], targets: [NextTokenLoss.Target]) -> Double {
        let hidden = transformer.finalNorm(final)
        var total = 0.0
        NextTokenLoss.forEachChunk(of: targets) { chunk in
            for loss in NextTokenLoss.rowLosses(hidden: hidden, targets: chunk, output: transformer.weights.head) { total += loss }
        }
        return total
    }

    /// The scored positions: row t-1 of sequence b predicts token t wherever lossMask[b][t] (t >= 1).
    static func maskedTargets(batch: [[Int32]], lossMask: [[Bool]], segments: [Range<Int>]) -> [NextTokenLoss.Target] {
        var targets: [NextTokenLoss.Target] = []
        for (b, sequence) in batch.enumerated() {
            for t in sequence.indices.dropFirst() where lossMask[b][t] {
                targets.append(NextTokenLoss.Target(row: segments[b].lowerBound + t - 1, token: sequence[t]))
            }
        }
        return targets
    }

    /// Rejects adapters built for another model shape (or, given `blocks`, for other blocks than a stage's), masks
    /// that do not match the batch, token ids outside the vocabulary, sequences longer than the model's positions
    /// and a normalizer below 1.
    static func validate(model: ModelWeights, adapters: LoRAAdapters, blocks: Range<Int>? = nil, batch: [[Int32]],
                         lossMask: [[Bool]], normalizer: Int?) throws {
        let whole = LoRALayout(config: adapters.config, model: model.config)
        guard adapters.layout == (blocks.map(whole.restricted) ?? whole) else {
            throw MopError("LoRA adapters were made for another model shape")
        }
        guard lossMask.count == batch.count else {
            throw MopError("loss mask has \(lossMask.count) sequences, the batch \(batch.count)")
        }
        for (b, sequence) in batch.enumerated() {
            guard lossMask[b].count == sequence.count else {
                throw MopError("loss mask of sequence \(b) has \(lossMask[b].count) flags for \(sequence.count) tokens")
            }
            guard sequence.count <= model.config.maxPositions else {
                throw MopError("sequence \(b) has \(sequence.count) tokens, the model takes \(model.config.maxPositions)")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= model.config.vocabSize }) {
                throw MopError("sequence \(b) holds token id \(bad) outside the vocabulary of \(model.config.vocabSize)")
            }
        }
        if let normalizer, normalizer < 1 { throw MopError("loss normalizer \(normalizer) must be at least 1") }
    }
}
