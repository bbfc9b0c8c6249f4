import Shared

/// A rank's side of the search: answers `ScoringRequest`s on its shard of the calibration sequences. It keeps the
/// original weights and the current pruned model (rebuilt by surgery when the coordinator's structure changes);
/// candidates are applied as masks over the current model, so they cost no weight memory.
public final class CalibrationWorker {
    public let original: ModelWeights
    public let sequences: [[Int32]]
    private var current: (structure: PruningStructure, model: Transformer)?
    /// The dense model's final hidden states over the shard, for `kl` (computed once).
    private lazy var denseHidden: [Float] = Transformer(weights: original).hiddenStates(sequences)
    /// The final hidden states of the last candidate asked about: the `kl` selection asks a candidate's loss and its
    /// KL one after the other, and both come from the same forward pass.
    private var lastCandidate: (structure: PruningStructure, step: PruningStructure?, hidden: [Float])?
    private lazy var targets = NextTokenLoss.targets(sequences)

    public init(original: ModelWeights, sequences: [[Int32]]) {
        self.original = original
        self.sequences = sequences
    }

    public func answer(_ request: ScoringRequest) throws -> [Double] {
        // A dedicated coordinator (or a rank past the last sequence) adds zeros of the right length to every sum.
        guard !sequences.isEmpty else { return [Double](repeating: 0, count: request.answerLength(original: original.config)) }
        switch request {
        case let .loss(structure, step):
            let hidden = try candidateHidden(structure, step)
            return [NextTokenLoss.sum(hidden: hidden, targets: targets, output: original.outputMatrix), Double(targets.count)]
        case let .klDivergence(structure, step):
            let hidden = try candidateHidden(structure, step)
            let divergence = NextTokenKL.sum(referenceHidden: denseHidden, hidden: hidden, targets: targets,
                                             output: original.outputMatrix)
            return [divergence, Double(targets.count)]
        case let .ampStatistics(structure):
            return AMPStatistics.packedSums(try model(for: structure), prompts: sequences)
        case let .blockInfluence(structure):
            return BlockInfluence.packedSums(try model(for: structure), batch: sequences)
        case .stop:
            return []
        }
    }

    /// Final hidden states [tokens, hidden] of the shard under `structure` with `step` masked over it.
    private func candidateHidden(_ structure: PruningStructure, _ step: PruningStructure?) throws -> [Float] {
        if let lastCandidate, lastCandidate.structure == structure, lastCandidate.step == step {
            return lastCandidate.hidden
        }
        lastCandidate = nil
        let model = try model(for: structure)
        let hidden = model.hiddenStates(sequences, mask: try mask(step, model))
        lastCandidate = (structure, step, hidden)
        return hidden
    }

    private func model(for structure: PruningStructure) throws -> Transformer {
        if let current, current.structure == structure { return current.model }
        // The old copy goes before the new one is cut, so a rank never holds three models (a 1.5B model's blocks are
        // 5 GB in fp32).
        current = nil
        let model = Transformer(weights: try structure.apply(to: original, file: "<structure from the coordinator>"))
        current = (structure, model)
        return model
    }

    private func mask(_ step: PruningStructure?, _ model: Transformer) throws -> ModelMask? {
        try step.map { try ModelMask(step: $0, config: model.config) }
    }
}
