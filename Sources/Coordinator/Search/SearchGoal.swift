import Foundation
import Shared

/// What the search brings down to its target, and how far a model is from it: the parameter count (`--target`) or
/// the generation latency a `LatencyModel` predicts (`--target-latency`). Steps stay planned in parameters (a width
/// step removes about one block's parameters); the goal says when to stop and how much the last steps may remove.
public struct SearchGoal: Sendable {
    public let original: ModelConfig
    /// The fraction of the original measure the pruned model may keep: 1 - target, or the latency ratio.
    public let keptFraction: Double
    /// nil: the measure is parameters.
    public let latency: LatencyModel?

    /// `latency` is the model a latency target is predicted by (ignored for a compression target); `MoPSearch`
    /// refuses a latency target without one.
    public init(settings: PruneSettings, original: ModelConfig, latency: LatencyModel?) {
        self.original = original
        keptFraction = settings.targetLatency ?? 1 - (settings.target ?? 0)
        self.latency = settings.targetLatency == nil ? nil : latency
    }

    /// The measure of a model: parameters, or predicted seconds of one protocol run.
    public func measure(_ config: ModelConfig) -> Double {
        latency.map { $0.seconds(config) } ?? Double(config.parameters)
    }

    /// The model's measure over the original's: what the target is stated in.
    public func ratio(_ config: ModelConfig) -> Double { measure(config) / measure(original) }

    private var targetMeasure: Double { keptFraction * measure(original) }
    /// How far past the target the search may end: the tolerance of docs/design.md#landing-on-the-target, in the
    /// measure's units.
    private var slack: Double { MoPSearch.tolerance * measure(original) }

    /// True when `config` meets the target within the tolerance.
    public func isMet(_ config: ModelConfig) -> Bool { measure(config) <= targetMeasure + slack }

    /// What is left to remove from `config`, in the measure's units.
    public func remaining(_ config: ModelConfig) -> Double { measure(config) - targetMeasure }

    /// What removing `block` of `config` saves, in the measure's units.
    public func blockMeasure(_ block: Int, of config: ModelConfig) -> Double {
        var without = config
        without.layers.remove(at: block)
        return measure(config) - measure(without)
    }

    /// What an average block of `config` accounts for, in the measure's units.
    public func averageBlockMeasure(_ config: ModelConfig) -> Double {
        var none = config
        none.layers = []
        return (measure(config) - measure(none)) / Double(max(config.layers.count, 1))
    }

    /// True when removing `block` of `config` keeps the model within the tolerance of the target.
    public func blockFits(_ block: Int, of config: ModelConfig) -> Bool {
        measure(config) - blockMeasure(block, of: config) >= targetMeasure - slack
    }

    /// The parameters a width step on `config` removes to save `amount` of the measure: `amount` itself for
    /// parameters; for latency, `amount` at the average predicted seconds per parameter of `config`'s heads and
    /// neurons (the AMP step removes both, in proportions it chooses); nil when they cost nothing (the latency
    /// model found no time in them), so no width step can bring the model closer.
    public func widthParameters(saving amount: Double, of config: ModelConfig) -> Double? {
        guard let latency else { return amount }
        let prunable = config.layers.reduce(0) { $0 + config.prunableBlockParameters($1) }
        let perParameter = latency.prunableSeconds(config) / Double(max(prunable, 1))
        return perParameter > 0 ? amount / perParameter : nil
    }

    /// Throws unless the smallest model the search could make meets the target: one block left (when the method
    /// removes blocks), one head unit and one neuron in each.
    public func checkReachable(_ settings: PruneSettings) throws {
        let blocks = settings.method == .mop || settings.method == .depth ? 1 : original.layers.count
        var smallest = original
        smallest.layers = original.layers.prefix(blocks).map { layer in
            settings.gqaUnit == .query
                ? LayerShape(heads: layer.kvHeads, kvHeads: layer.kvHeads, intermediate: 1)
                : LayerShape(heads: layer.heads / layer.kvHeads, kvHeads: 1, intermediate: 1)
        }
        guard isMet(smallest) else {
            let measured = latency == nil ? "parameters" : "predicted generation latency"
            throw MopError(String(format: "the target %@ cannot be reached: the smallest model the search can make "
                                  + "(%ld block(s), one head unit and one neuron each) keeps %.1f%% of the dense model's %@",
                                  settings.targetDescription, blocks, ratio(smallest) * 100, measured))
        }
    }
}

extension LatencyModel {
    /// Predicted seconds of `config`'s query heads, KV heads and neurons: what a width step can remove.
    func prunableSeconds(_ config: ModelConfig) -> Double {
        config.layers.reduce(0) { sum, layer in
            sum + Double(layer.heads) * queryHeadSeconds + Double(layer.kvHeads) * kvHeadSeconds
                + Double(layer.intermediate) * neuronSeconds
        }
    }
}
