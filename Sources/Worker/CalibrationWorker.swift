import Shared

/// A rank's side of the search: answers `ScoringRequest`s on its shard of the calibration sequences. It keeps the
/// original weights and the current pruned model (rebuilt by surgery when the coordinator's structure changes);
/// candidates are applied as masks over the current model, so they cost no weight memory.
///
/// With a pipeline `stage` (`--stages`), the rank holds only its stage's blocks: every forward pass runs the shard
/// micro-batch by micro-batch through the replica's stages, each stage observing (AMP statistics, block influence)
/// its own blocks, the last one scoring. Every stage answers every request, with zeros where it has nothing to add,
/// so the sums over ranks are the unsharded answer. A request for one fold of the calibration set runs only the
/// shard's sequences of that fold.
public final class CalibrationWorker {
    public let original: ModelWeights
    public let sequences: [[Int32]]
    /// The image feature rows of each sequence (nil for a text one; values only where this rank embeds), or empty when
    /// no sequence has any.
    public let features: [FeatureRows?]
    /// Index of `sequences[0]` in the whole calibration set, which decides the folds its sequences belong to.
    public let firstSequence: Int
    /// The model's file, named when a forward pass overflows (`ForwardOverflow`).
    public let file: String
    private var stage: PipelineStage?
    /// The shard's sequences of one fold (or all of them), in micro-batches.
    private struct Part {
        let sequences: [[Int32]]
        /// Each micro-batch's feature rows, in its stacked rows.
        let features: [[FeatureRows]]
        /// Whole sequences: while one stage runs a micro-batch the previous stage already runs the next, and the last
        /// stage scores each as it arrives. The whole-model worker runs the same micro-batches, so both do the same
        /// arithmetic.
        let microBatches: [[[Int32]]]
        /// Each micro-batch's next-token targets (rows counted within it); no feature row is one.
        let targets: [[NextTokenLoss.Target]]
        var targetCount: Double { Double(targets.reduce(0) { $0 + $1.count }) }
        var tokenCount: Int { sequences.reduce(0) { $0 + $1.count } }
    }
    /// Parts built so far, by fold (nil: the whole shard).
    private var parts: [CalibrationFold?: Part] = [:]
    private var current: (structure: PruningStructure, model: Transformer)?
    /// The dense model's final hidden states per micro-batch of a part, for `kl` (computed once per part; nil off
    /// the last stage).
    private var dense: [CalibrationFold?: [[Float]]?] = [:]
    /// The last candidate asked about: the `kl` selection asks a candidate's loss and its KL one after the other,
    /// and both come from the same forward pass (nil off the last stage).
    private var lastCandidate: (structure: PruningStructure, step: PruningStructure?, fold: CalibrationFold?, pass: CandidatePass?)?

    /// Block influence measured in the pass of an AMP statistics request, by model and fold, until it is asked: the
    /// search asks both of a path it expands, AMP statistics first, and that pass shows the observers every block's
    /// input and output anyway, so the similarity rule's question costs no pass of its own (only its cosines).
    private var measuredInfluence: [ModelFold: [Double]] = [:]
    /// Block inputs kept from the same pass, by model and fold (whole-model ranks only): the candidates of that model
    /// are scored next, and the depth candidate's blocks before the removed one are the current model's.
    private var keptInputs: [ModelFold: BlockInputs] = [:]
    private struct ModelFold: Hashable {
        let structure: PruningStructure
        let fold: CalibrationFold?
    }
    /// Blocks run over the shard (or a fold of it) so far, each counted once per forward pass however many
    /// micro-batches the pass took (a block the mask skips not at all): what the answers cost.
    public private(set) var blocksRun = 0

    /// A candidate's forward pass over the shard: final hidden states per micro-batch and the NLL summed as they came.
    private struct CandidatePass {
        let hidden: [[Float]]
        let negativeLogLikelihood: Double
    }

    /// `original` holds at least the stage's part; `stage` is nil when this rank holds and runs the whole model;
    /// `firstSequence` is the index of `sequences[0]` in the whole calibration set; `features`, when given, one entry
    /// per sequence.
    public init(original: ModelWeights, sequences: [[Int32]], features: [FeatureRows?] = [], firstSequence: Int = 0, file: String,
                stage: PipelineStage? = nil) {
        precondition(features.isEmpty || features.count == sequences.count, "\(features.count) feature entries for \(sequences.count) sequences")
        self.original = original
        self.sequences = sequences
        self.features = features
        self.firstSequence = firstSequence
        self.file = file
        self.stage = stage
    }

    /// Whether this rank scores and counts (prompts, tokens): the last stage, or a rank holding the whole model.
    private var scores: Bool { stage?.isLast ?? true }

    public func answer(_ request: ScoringRequest) throws -> [Double] {
        let fold: CalibrationFold? = switch request {
        case let .loss(_, _, fold), let .klDivergence(_, _, fold): fold
        case let .ampStatistics(_, fold), let .blockInfluence(_, fold): fold
        case .quantImportance, .stop: nil
        }
        let part = self.part(fold)
        // A dedicated coordinator (or a rank past the last sequence, or with none of the fold) adds zeros of the right
        // length to every sum.
        guard !part.sequences.isEmpty else { return [Double](repeating: 0, count: request.answerLength(original: original.config)) }
        switch request {
        case let .loss(structure, step, _):
            guard let pass = try candidate(structure, step, fold: fold, part) else { return [0, 0] }
            return [pass.negativeLogLikelihood, part.targetCount]
        case let .klDivergence(structure, step, _):
            let dense = try denseHidden(fold: fold, part)
            guard let pass = try candidate(structure, step, fold: fold, part), let dense else { return [0, 0] }
            var divergence = 0.0
            for index in part.microBatches.indices {
                divergence += NextTokenKL.sum(referenceHidden: dense[index], hidden: pass.hidden[index], targets: part.targets[index],
                                              output: original.head)
            }
            try ForwardOverflow.check(divergence, file: file, at: "the calibration set's KL")
            return [divergence, part.targetCount]
        case let .ampStatistics(structure, _):
            let model = try model(for: structure)
            let statistics = AMPStatistics(weights: model.weights)
            let influence = BlockInfluence(layers: model.config.layers.count)
            let inputs = stage == nil ? BlockInputs(layers: model.config.layers.count, blockBytes: inputBytesPerBlock,
                                                    budget: inputBudget) : nil
            _ = try forward(model, structure: structure, part, mask: nil,
                            observer: ObserverGroup([statistics, influence] + (inputs.map { [$0] } ?? [])))
            let key = ModelFold(structure: structure, fold: fold)
            measuredInfluence[key] = influence.packed(tokens: scores ? part.tokenCount : 0)
            keptInputs[key] = inputs
            return statistics.packed(prompts: scores ? part.sequences.count : 0)
        case let .quantImportance(structure):
            let model = try model(for: structure)
            let statistics = QuantImportanceStatistics(config: model.config)
            _ = try forward(model, structure: structure, part, mask: nil, observer: statistics)
            return statistics.packed(tokens: scores ? part.tokenCount : 0)
        case let .blockInfluence(structure, _):
            if let measured = measuredInfluence.removeValue(forKey: ModelFold(structure: structure, fold: fold)) { return measured }
            let model = try model(for: structure)
            let influence = BlockInfluence(layers: model.config.layers.count)
            _ = try forward(model, structure: structure, part, mask: nil, observer: influence)
            return influence.packed(tokens: scores ? part.tokenCount : 0)
        case .stop:
            return []
        }
    }

    /// Drops what answers keep for the next ones (the current pruned model, the block inputs and influence of the
    /// last statistics pass, the dense and last candidate's hidden states): once the search is over nothing asks
    /// again, and the recovery and evaluation that follow in the same process need the memory (the kept block inputs
    /// alone may take a quarter of the weights' bytes). A later question is answered as a fresh worker would.
    public func forgetSearch() {
        (parts, current, dense, lastCandidate, measuredInfluence, keptInputs) = ([:], nil, [:], nil, [:], [:])
    }

    /// The shard's sequences of `fold` (nil: all), in micro-batches, built once.
    private func part(_ fold: CalibrationFold?) -> Part {
        if let built = parts[fold] { return built }
        let indices = fold.map { fold in sequences.indices.filter { fold.contains(firstSequence + $0) } } ?? Array(sequences.indices)
        let chosen = indices.map { sequences[$0] }
        let batches = Self.microBatches(chosen, stages: stage?.stages ?? 1)
        // Each sequence's feature rows moved to where its micro-batch stacks it.
        var next = 0
        let stacked = batches.map { batch -> [FeatureRows] in
            Transformer.segments(batch).compactMap { segment -> FeatureRows? in
                defer { next += 1 }
                return features.isEmpty ? nil : features[indices[next]]?.shifted(by: segment.lowerBound)
            }
        }
        let targets = zip(batches, stacked).map { NextTokenLoss.targets($0, features: $1) }
        let built = Part(sequences: chosen, features: stacked, microBatches: batches, targets: targets)
        parts[fold] = built
        return built
    }

    /// What the pipeline's links carried and how long they waited (nil without a stage).
    public var link: StageLink? { stage?.link }

    /// Every stage runs the dense pass the first time a KL is asked of a part, so the stages of a replica stay in step.
    private func denseHidden(fold: CalibrationFold?, _ part: Part) throws -> [[Float]]? {
        if let computed = dense[fold] { return computed }
        let hidden = try forward(Transformer(weights: original), structure: nil, part, mask: nil)
        dense[fold] = .some(hidden)
        return hidden
    }

    /// `part` under `structure` with `step` masked over it (nil off the last stage).
    private func candidate(_ structure: PruningStructure, _ step: PruningStructure?, fold: CalibrationFold?,
                           _ part: Part) throws -> CandidatePass? {
        if let lastCandidate, lastCandidate.structure == structure, lastCandidate.step == step, lastCandidate.fold == fold {
            return lastCandidate.pass
        }
        lastCandidate = nil
        let model = try model(for: structure)
        var negativeLogLikelihood = 0.0
        let mask = try step.map { try ModelMask(step: $0, config: model.config) }
        let resumption = keptInputs[ModelFold(structure: structure, fold: fold)]?
            .resumption(atOrBefore: mask.map(BlockInputs.firstChanged) ?? model.config.layers.count)
        let hidden = try forward(model, structure: structure, part, mask: mask, resumingFrom: resumption) {
            let sum = NextTokenLoss.sum(hidden: $1, targets: part.targets[$0], output: self.original.head)
            try ForwardOverflow.check(sum, file: self.file, at: "calibration batch \($0 + 1)")
            negativeLogLikelihood += sum
        }
        let pass = hidden.map { CandidatePass(hidden: $0, negativeLogLikelihood: negativeLogLikelihood) }
        lastCandidate = (structure, step, fold, pass)
        return pass
    }

    /// `part` through `model` (pruned by `structure`; nil: the original), micro-batch after micro-batch: the final
    /// hidden states [rows, D] of every micro-batch on the last stage (or the whole model), each handed to `scored`
    /// as it is ready (with its index); nil on the other stages. With `resumption` (a whole-model rank), each
    /// micro-batch starts from its kept input of that block instead of the embedding.
    private func forward(_ model: Transformer, structure: PruningStructure?, _ part: Part, mask: ModelMask?,
                         observer: ForwardObserver? = nil, resumingFrom resumption: (block: Int, inputs: [[Float]])? = nil,
                         scored: (Int, [Float]) throws -> Void = { _, _ in }) throws -> [[Float]]? {
        let blocks = stage.map { structure?.blocks(in: $0.part.blocks) ?? $0.part.blocks }
        let run = blocks ?? ((resumption?.block ?? 0)..<model.config.layers.count)
        blocksRun += run.filter { index in mask.map { $0.layers[index] != nil } ?? true }.count
        var hidden: [[Float]] = []
        for (index, batch) in part.microBatches.enumerated() {
            let rows: [Float]?
            if let resumption {
                var x = resumption.inputs[index]
                model.runBlocks(resumption.block..<model.config.layers.count, &x, segments: Transformer.segments(batch),
                                mask: mask, observer: observer)
                rows = model.finalNorm(x)
            } else {
                let features = part.features[index]
                rows = stage == nil ? model.hiddenStates(batch, features: features, mask: mask, observer: observer)
                    : try stage!.forward(model, batch: batch, features: features, blocks: blocks, mask: mask, observer: observer)
            }
            guard let rows else { continue }
            // Every request (losses, KL, AMP statistics, block influence) reads these rows or what made them; a
            // pipeline's last stage holds only its blocks, so there the layer stays unnamed.
            try ForwardOverflow.check(rows, file: file, at: "calibration batch \(index + 1)") {
                stage == nil ? model.firstNonFiniteLayer(batch, features: part.features[index], mask: mask) : nil
            }
            try scored(index, rows)
            hidden.append(rows)
        }
        return scores ? hidden : nil
    }

    /// What the kept block inputs of one model may take, over all folds: a quarter of the bytes the weights take in
    /// memory.
    private var inputBudget: Int { original.namedTensors().reduce(0) { $0 + $1.tensor.bytesHeld } / 4 }
    /// One block's input over the whole shard: a fold keeps as many blocks as the whole set would, so the folds
    /// together stay within the budget.
    private var inputBytesPerBlock: Int { sequences.reduce(0) { $0 + $1.count } * original.config.hidden * MemoryLayout<Float>.size }

    private func model(for structure: PruningStructure) throws -> Transformer {
        if let current, current.structure == structure { return current.model }
        // What was measured of another model is not asked about any more: the search moved on.
        measuredInfluence = [:]
        keptInputs = [:]
        // The old copy goes before the new one is cut, so a rank never holds three models (a 1.5B model's blocks are
        // 5 GB in fp32).
        current = nil
        let model = Transformer(weights: try structure.apply(to: original, holding: stage?.part,
                                                             file: "<structure from the coordinator>"))
        current = (structure, model)
        return model
    }

    /// `sequences` in consecutive micro-batches, each closed once it reaches `PipelineLayout.microBatchTokens`.
    static func microBatches(_ sequences: [[Int32]], stages: Int) -> [[[Int32]]] {
        let budget = PipelineLayout.microBatchTokens(shardTokens: sequences.reduce(0) { $0 + $1.count }, stages: stages)
        var batches: [[[Int32]]] = [], batch: [[Int32]] = [], filled = 0
        for sequence in sequences {
            batch.append(sequence)
            filled += sequence.count
            if filled >= budget {
                batches.append(batch)
                (batch, filled) = ([], 0)
            }
        }
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }
}
