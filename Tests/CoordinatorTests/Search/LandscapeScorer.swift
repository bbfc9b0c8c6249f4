import Foundation
import Shared

/// A search landscape laid by hand: the calibration loss of a model is a function of the steps that made it, so a
/// test can set a trap for the greedy search. AMP statistics and block influence come from `FakeScorer`'s tiny
/// model, so the planners build real steps and the paths reach the target as real ones do.
final class LandscapeScorer {
    let fake = FakeScorer(config: TinyModels.config())
    /// Losses of the paths the test cares about; any other path costs its parent's loss plus `depthCost` (L) or
    /// `widthCost` (G), so later steps are never tied.
    let losses: [String: Double]
    let depthCost = 0.2, widthCost = 0.1

    /// The trap: the depth step is cheaper now (1.0 against 1.1) but every path through it costs 3.0 or more,
    /// while the width step opens paths of 1.5.
    static let greedyTrap: [String: Double] = ["L": 1.0, "G": 1.1, "LL": 3.0, "LG": 3.1, "GL": 1.5, "GG": 1.6]

    init(losses: [String: Double] = LandscapeScorer.greedyTrap) {
        self.losses = losses
    }

    var config: ModelConfig { fake.config }

    func loss(of path: String) -> Double {
        if let loss = losses[path] { return loss }
        guard let last = path.last else { return 0 }
        return loss(of: String(path.dropLast())) + (last == "L" ? depthCost : widthCost)
    }

    func callAsFunction(_ request: ScoringRequest) throws -> [Double] {
        switch request {
        case let .loss(current, step, _): [loss(of: current.path + (step?.path ?? "")), 1]
        case .klDivergence: throw MopError("the landscape has losses only")
        case .ampStatistics, .blockInfluence, .quantImportance, .stop: try fake(request)
        }
    }
}
