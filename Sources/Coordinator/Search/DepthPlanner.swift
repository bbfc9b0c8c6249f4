import Foundation
import Shared

/// The block a depth step removes (docs/design.md#depth-rules), in current-model indices.
public struct DepthChoice: Equatable, Sendable {
    /// Index of the block in the current model.
    public var block: Int

    public init(block: Int) {
        self.block = block
    }
}

/// Chooses the block of a depth step.
public enum DepthPlanner {
    /// The step over the current model (shape `config`) that removes current block `block` and keeps all else.
    public static func step(removing block: Int, from config: ModelConfig) -> PruningStructure {
        var step = PruningStructure.identity(config)
        step.layers.remove(at: block)
        step.path = "L"
        return step
    }

    /// The block `rule` removes from `current` (shape `config`), judged on the calibration `folds` (nil: the whole
    /// set), or nil when only one block is left.
    public static func choose(rule: PruneSettings.DepthRule, current: PruningStructure, config: ModelConfig,
                              scorer: CandidateScorer, folds: [CalibrationFold?] = [nil]) throws -> DepthChoice? {
        let count = config.layers.count
        guard count > 1 else { return nil }
        switch rule {
        case .position:
            // The reference code keeps the last two blocks.
            return DepthChoice(block: max(count - 3, 0))
        case .similarity:
            let influence = try scorer.blockInfluence(current: current, folds: folds)
            return DepthChoice(block: argmin(influence))
        case .loss:
            let losses = try scorer.pooledMeans((0..<count).map { block in
                folds.map { .loss(current: current, step: step(removing: block, from: config), fold: $0) }
            })
            return DepthChoice(block: argmin(losses))
        }
    }

    /// Index of the smallest value, the first one on ties, so the choice is reproducible.
    static func argmin(_ values: [Double]) -> Int {
        var best = 0
        for index in values.indices where values[index] < values[best] { best = index }
        return best
    }
}
