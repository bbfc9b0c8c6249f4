import Foundation
import Shared

/// A width step over the current model and the head accumulators to carry to the next width step.
public struct WidthStep: Equatable, Sendable {
    /// Kept heads and neurons of every current block (current indices, path "G").
    public var step: PruningStructure
    /// Per current layer, the fractional head units owed after this step.
    public var accumulators: [Double]
    /// Parameters the step removes.
    public var removedParameters: Int
}

/// AMP width surgery with a parameter-exact budget (docs/design.md#budget).
///
/// Every layer removes the same fraction r = B / sum_l (P_attn,l + P_mlp,l) of itself. Heads leave in units (one
/// head in MHA; one query head per KV group, or a whole KV group, in GQA), only when the layer's fractional head
/// account reaches a whole unit; the rest of the layer's share is taken in neurons. Small steps cannot pay for a
/// unit in every layer at once (SmolLM2's query unit is 1.9 times a 30th of a block), so the units that do not fit
/// in the budget wait for the next width step, and a layer whose unit exceeds its share takes the excess back
/// from the other layers' neurons: every step removes B to within half a neuron per layer.
public enum WidthPlanner {
    /// Plans the step. `config` is the current model, `scores` its AMP scores, `accumulators` one per current layer
    /// (zeros before the first width step), `random` the seeded generator of the `random` criterion.
    public static func plan(config: ModelConfig, scores: AMPScores, budget: Int, criterion: PruneSettings.Criterion,
                            unit: PruneSettings.GQAUnit, accumulators: [Double],
                            random: inout SeededRandom) throws -> WidthStep {
        let layers = config.layers
        guard scores.heads.count == layers.count, scores.neurons.count == layers.count,
              zip(layers, zip(scores.heads, scores.neurons)).allSatisfy({ $0.heads == $1.0.count && $0.intermediate == $1.1.count }) else {
            throw MopError("AMP scores do not match the current model's \(layers.count) layers")
        }
        guard accumulators.count == layers.count else {
            throw MopError("\(accumulators.count) head accumulators for \(layers.count) layers")
        }
        guard budget >= 0 else { throw MopError("negative width budget \(budget)") }

        let units = layers.map { HeadUnit(shape: $0, unit: unit, config: config) }
        // P_attn,l + P_mlp,l: the block without its norms. With the `query` unit the K and V share of it is
        // taken in neurons.
        let prunable = layers.map { config.prunableBlockParameters($0) }
        let r = min(Double(budget) / Double(max(prunable.reduce(0, +), 1)), 1)

        var newAccumulators = accumulators
        var owed = [Int](repeating: 0, count: layers.count)
        for l in layers.indices {
            newAccumulators[l] += r * Double(units[l].count)
            // The epsilon keeps an exact whole unit (r * count == 1 up to rounding) from being deferred.
            let whole = Int((newAccumulators[l] + 1e-9).rounded(.down))
            owed[l] = min(whole, units[l].count - 1)
            // Units that can never go (one must stay) were paid in neurons; they are not owed any more.
            newAccumulators[l] -= Double(whole - owed[l])
        }
        let headUnits = unitsWithinBudget(owed: owed, accumulators: newAccumulators,
                                          unitParameters: units.map(\.parameters), budget: budget)
        for l in layers.indices { newAccumulators[l] = max(newAccumulators[l] - Double(headUnits[l]), 0) }
        let neurons = neuronCounts(config: config, share: prunable.map { r * Double($0) }, budget: budget,
                                   headParameters: zip(headUnits, units).map { $0 * $1.parameters })

        var kept: [KeptLayer] = []
        for l in layers.indices {
            let (heads, kvHeads) = units[l].kept(removing: headUnits[l], scores: scores.heads[l],
                                                 criterion: criterion, random: &random)
            let neuronOrder = removalOrder(scores.neurons[l], criterion: criterion, random: &random)
            let keptNeurons = Array(neuronOrder[neurons[l]...]).sorted()
            kept.append(KeptLayer(index: l, heads: heads, kvHeads: kvHeads, neurons: keptNeurons))
        }
        let step = PruningStructure(originalLayers: layers.count, path: "G", layers: kept)
        try step.validate(against: config, file: "<width step>")
        return WidthStep(step: step, accumulators: newAccumulators,
                         removedParameters: config.parameters - step.parameters(of: config))
    }

    /// The owed head units that go now: all of them when they fit in the budget; otherwise, layer by layer in
    /// order of the largest account first, as many as fit, the rest carried to the next width step. Uniform layers
    /// owe their units at the same step, so without this a step could remove several times its budget in heads.
    static func unitsWithinBudget(owed: [Int], accumulators: [Double], unitParameters: [Int], budget: Int) -> [Int] {
        var left = budget
        var taken = [Int](repeating: 0, count: owed.count)
        let order = owed.indices.sorted { (accumulators[$0], $1) > (accumulators[$1], $0) }
        for l in order where owed[l] > 0 {
            taken[l] = min(owed[l], left / unitParameters[l])
            left -= taken[l] * unitParameters[l]
        }
        return taken
    }

    /// Neurons to remove per layer: each layer's share minus its head removal, rounded per layer (identical layers
    /// stay identical), clamped so every layer keeps a neuron. What the clamps cut off (a layer whose head units
    /// exceed its share, or one short of neurons) is spread over the layers with room, so the step still removes
    /// the budget to within half a neuron per layer.
    static func neuronCounts(config: ModelConfig, share: [Double], budget: Int, headParameters: [Int]) -> [Int] {
        let perNeuron = Double(config.neuronParameters)
        let capacity = config.layers.map { Double($0.intermediate - 1) }
        var counts = zip(share, headParameters).enumerated().map { l, pair in
            min(max((pair.0 - Double(pair.1)) / perNeuron, 0), capacity[l])
        }
        let wanted = min(max(Double(budget - headParameters.reduce(0, +)) / perNeuron, 0), capacity.reduce(0, +))
        let residual = wanted - counts.reduce(0, +)
        let room = residual > 0 ? zip(capacity, counts).map { $0 - $1 } : counts
        let totalRoom = room.reduce(0, +)
        if abs(residual) > 1e-9, totalRoom > 0 {
            // |residual| <= totalRoom, so every layer stays within [0, capacity].
            let fraction = min(abs(residual) / totalRoom, 1) * (residual > 0 ? 1 : -1)
            for l in counts.indices { counts[l] = min(max(counts[l] + fraction * room[l], 0), capacity[l]) }
        }
        return counts.map { Int($0.rounded()) }
    }

    /// Indices in removal order: ascending score for `amp`, descending for `reversed`, ties by index; a seeded
    /// Fisher-Yates shuffle for `random` (written out so the order never depends on the standard library's
    /// shuffle algorithm).
    static func removalOrder(_ scores: [Double], criterion: PruneSettings.Criterion, random: inout SeededRandom) -> [Int] {
        var order = Array(scores.indices)
        switch criterion {
        case .amp: order.sort { (scores[$0], $0) < (scores[$1], $1) }
        case .reversed: order.sort { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        case .random:
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(random.next() % UInt64(i + 1)))
            }
        }
        return order
    }
}

/// The head unit of one layer (docs/design.md#gqa-units): its count and parameters, and which heads survive removing
/// some.
struct HeadUnit {
    /// Query heads per KV group.
    let groupSize: Int
    let kvHeads: Int
    /// True when a unit is a whole KV group (always in MHA layers, where a group is one head).
    let wholeGroups: Bool
    let count: Int
    let parameters: Int

    init(shape: LayerShape, unit: PruneSettings.GQAUnit, config: ModelConfig) {
        groupSize = shape.heads / shape.kvHeads
        kvHeads = shape.kvHeads
        wholeGroups = unit == .group || groupSize == 1
        if wholeGroups {
            count = shape.kvHeads
            parameters = groupSize * config.queryHeadParameters + config.kvHeadParameters
        } else {
            count = groupSize
            parameters = shape.kvHeads * config.queryHeadParameters
        }
    }

    /// Kept (query heads, KV heads) after removing `removed` units in `criterion` order.
    func kept(removing removed: Int, scores: [Double], criterion: PruneSettings.Criterion,
              random: inout SeededRandom) -> ([Int], [Int]) {
        if wholeGroups {
            let groupScores = (0..<kvHeads).map { group in
                scores[group * groupSize..<(group + 1) * groupSize].reduce(0, +) / Double(groupSize)
            }
            let order = WidthPlanner.removalOrder(groupScores, criterion: criterion, random: &random)
            let keptGroups = order[removed...].sorted()
            return (keptGroups.flatMap { ($0 * groupSize)..<(($0 + 1) * groupSize) }, keptGroups)
        }
        let heads = (0..<kvHeads).flatMap { group -> [Int] in
            let base = group * groupSize
            let order = WidthPlanner.removalOrder(Array(scores[base..<base + groupSize]), criterion: criterion,
                                                  random: &random)
            return order[removed...].map { base + $0 }.sorted()
        }
        return (heads, Array(0..<kvHeads))
    }
}
