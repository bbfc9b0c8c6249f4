import Shared

/// A rank's side of the search: answers `ScoringRequest`s on its shard of the calibration sequences. It keeps the
/// original weights and the current pruned model (rebuilt by surgery when the coordinator's structure changes);
/// candidates are applied as masks over the current model, so they cost no weight memory.
///
/// With a pipeline `stage` (`--stages`), the rank holds only its stage's blocks: every forward pass runs the shard
/// micro-batch by micro-batch through the replica's stages, each stage observing (AMP statistics, block influence)
/// its own blocks, the last one scoring. Every stage answers every request, with zeros where it has nothing to add,
/// so the sums over ranks are the unsharded answer.
public final class CalibrationWorker {
    public let original: ModelWeights
    public let sequences: [[Int32]]
    private var stage: PipelineStage?
    /// The shard in micro-batches of whole sequences: while one stage runs a micro-batch the previous stage already
    /// runs the next. The whole-model worker runs the same micro-batches, so both do the same arithmetic.
    private let microBatches: [[[Int32]]]
    private var current: (structure: PruningStructure, model: Transformer)?
    /// The dense model's final hidden states over the shard, for `kl` (computed once; nil off the last stage).
    private var dense: (computed: Bool, hidden: [Float]?) = (false, nil)
    /// The final hidden states of the last candidate asked about (nil off the last stage): the `kl` selection asks a
    /// candidate's loss and its KL one after the other, and both come from the same forward pass.
    private var lastCandidate: (structure: PruningStructure, step: PruningStructure?, hidden: [Float]?)?
    private lazy var targets = NextTokenLoss.targets(sequences)

    /// `original` holds at least the stage's part; `stage` is nil when this rank holds and runs the whole model.
    public init(original: ModelWeights, sequences: [[Int32]], stage: PipelineStage? = nil) {
        self.original = original
        self.sequences = sequences
        self.stage = stage
        microBatches = Self.microBatches(sequences, stages: stage?.stages ?? 1)
    }

    /// Counts that every stage would add (prompts, tokens) are added by the last stage only.
    private var counts: Bool { stage?.isLast ?? true }

    public func answer(_ request: ScoringRequest) throws -> [Double] {
        // A dedicated coordinator (or a rank past the last sequence) adds zeros of the right length to every sum.
        guard !sequences.isEmpty else { return [Double](repeating: 0, count: request.answerLength(original: original.config)) }
        switch request {
        case let .loss(structure, step):
            guard let hidden = try candidateHidden(structure, step) else { return [0, 0] }
            return [NextTokenLoss.sum(hidden: hidden, targets: targets, output: original.outputMatrix), Double(targets.count)]
        case let .klDivergence(structure, step):
            let dense = try denseHidden()
            guard let hidden = try candidateHidden(structure, step), let dense else { return [0, 0] }
            let divergence = NextTokenKL.sum(referenceHidden: dense, hidden: hidden, targets: targets,
                                             output: original.outputMatrix)
            return [divergence, Double(targets.count)]
        case let .ampStatistics(structure):
            let model = try model(for: structure)
            let statistics = AMPStatistics(weights: model.weights)
            _ = try forward(model, structure: structure, mask: nil, observer: statistics)
            return statistics.packed(prompts: counts ? sequences.count : 0)
        case let .blockInfluence(structure):
            let model = try model(for: structure)
            let influence = BlockInfluence(layers: model.config.layers.count)
            _ = try forward(model, structure: structure, mask: nil, observer: influence)
            return influence.packed(tokens: counts ? sequences.reduce(0) { $0 + $1.count } : 0)
        case .stop:
            return []
        }
    }

    /// What the pipeline's links carried and how long they waited (nil without a stage).
    public var link: StageLink? { stage?.link }

    /// Every stage runs the dense pass the first time a KL is asked, so the stages of a replica stay in step.
    private func denseHidden() throws -> [Float]? {
        if !dense.computed { dense = (true, try forward(Transformer(weights: original), structure: nil, mask: nil)) }
        return dense.hidden
    }

    /// Final hidden states [tokens, hidden] of the shard under `structure` with `step` masked over it (nil off the
    /// last stage).
    private func candidateHidden(_ structure: PruningStructure, _ step: PruningStructure?) throws -> [Float]? {
        if let lastCandidate, lastCandidate.structure == structure, lastCandidate.step == step {
            return lastCandidate.hidden
        }
        lastCandidate = nil
        let model = try model(for: structure)
        let hidden = try forward(model, structure: structure, mask: try step.map { try ModelMask(step: $0, config: model.config) })
        lastCandidate = (structure, step, hidden)
        return hidden
    }

    /// The shard through `model` (pruned by `structure`; nil: the original), micro-batch after micro-batch: the final
    /// hidden states [tokens, D] on the last stage (or the whole model), nil on the others.
    private func forward(_ model: Transformer, structure: PruningStructure?, mask: ModelMask?,
                         observer: ForwardObserver? = nil) throws -> [Float]? {
        guard stage != nil else {
            return microBatches.flatMap { model.hiddenStates($0, mask: mask, observer: observer) }
        }
        let held = stage!.part.blocks
        let blocks = structure?.blocks(in: held) ?? held
        var hidden: [Float] = []
        for batch in microBatches {
            if let rows = try stage!.forward(model, batch: batch, blocks: blocks, mask: mask, observer: observer) {
                hidden += rows
            }
        }
        return stage!.isLast ? hidden : nil
    }

    private func model(for structure: PruningStructure) throws -> Transformer {
        if let current, current.structure == structure { return current.model }
        // The old copy goes before the new one is cut, so a rank never holds three models (a 1.5B model's blocks are
        // 5 GB in fp32).
        current = nil
        let model = Transformer(weights: try structure.apply(to: original, holding: stage?.part,
                                                             file: "<structure from the coordinator>"))
        current = (structure, model)
        return model
    }

    /// `sequences` in consecutive micro-batches of about a quarter of the tokens per stage (at least one sequence,
    /// at most 512 tokens unless a sequence is longer): enough micro-batches to keep the stages busy, large enough
    /// for efficient products.
    static func microBatches(_ sequences: [[Int32]], stages: Int) -> [[[Int32]]] {
        let tokens = sequences.reduce(0) { $0 + $1.count }
        let budget = min(512, max(64, tokens / (4 * stages)))
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
