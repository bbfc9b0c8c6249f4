import XCTest
import Shared
@testable import Coordinator

final class WidthPlannerTests: XCTestCase {
    /// Distinct deterministic scores: seeded draws in [1, 3).
    func scores(_ config: ModelConfig, seed: UInt64 = 3) -> AMPScores {
        var rng = SeededRandom(seed: seed)
        return AMPScores(heads: config.layers.map { shape in (0..<shape.heads).map { _ in Double(rng.uniform(1)) + 2 } },
                         neurons: config.layers.map { shape in (0..<shape.intermediate).map { _ in Double(rng.uniform(1)) + 2 } })
    }

    func plan(_ config: ModelConfig, _ scores: AMPScores, budget: Int, criterion: PruneSettings.Criterion = .amp,
              unit: PruneSettings.GQAUnit = .query, accumulators: [Double]? = nil, seed: UInt64 = 1) throws -> WidthStep {
        var rng = SeededRandom(seed: seed)
        return try WidthPlanner.plan(config: config, scores: scores, budget: budget, criterion: criterion, unit: unit,
                                     accumulators: accumulators ?? Array(repeating: 0, count: config.layers.count),
                                     random: &rng)
    }

    /// Naive reference: parameters removed by keeping `step`'s heads and neurons.
    func removed(_ config: ModelConfig, _ step: PruningStructure) -> Int {
        let d = config.hidden, hd = config.headDim
        return zip(config.layers, step.layers).reduce(0) { total, pair in
            let (shape, kept) = pair
            return total + 2 * d * hd * (shape.heads - kept.heads.count) + 2 * d * hd * (shape.kvHeads - kept.kvHeads.count)
                + 3 * d * (shape.intermediate - kept.neurons.count)
        }
    }

    func testBudgetsAreMetForEveryUnitAndModel() throws {
        for (config, units) in [(TinyModels.config(), [PruneSettings.GQAUnit.query, .group]),
                                (TinyModels.config(heads: 4, kvHeads: 4), [.query])] {
            let s = scores(config)
            for unit in units {
                for budget in [500, 3000, 7744, 15000, 30000] {
                    let step = try plan(config, s, budget: budget, unit: unit)
                    XCTAssertEqual(step.removedParameters, removed(config, step.step))
                    // Per-layer rounding: at most half a neuron (3 * 32 / 2 parameters) per layer off.
                    XCTAssertLessThanOrEqual(abs(step.removedParameters - budget), 6 * 48, "\(unit) budget \(budget)")
                    XCTAssertEqual(step.step.path, "G")
                    XCTAssertNoThrow(try step.step.validate(against: config, file: "step"))
                }
            }
        }
    }

    func testQueryUnitRemovesTheLowestHeadOfEveryGroup() throws {
        let config = TinyModels.config()
        let s = scores(config)
        // r = 1/2: one of the two query units per layer, 3840 parameters per layer: 1024 in heads, 29.33 neurons.
        let step = try plan(config, s, budget: 23040, unit: .query)
        for (l, kept) in step.step.layers.enumerated() {
            XCTAssertEqual(kept.kvHeads, [0, 1])
            let expected = [0, 2].map { base in s.heads[l][base] >= s.heads[l][base + 1] ? base : base + 1 }
            XCTAssertEqual(kept.heads, expected, "layer \(l) keeps the higher head of each group")
            XCTAssertEqual(48 - kept.neurons.count, 29)
            let keptScores = kept.neurons.map { s.neurons[l][$0] }
            let removedScores = Set(0..<48).subtracting(kept.neurons).map { s.neurons[l][$0] }
            XCTAssertLessThan(removedScores.max()!, keptScores.min()!, "amp removes the lowest neurons")
        }
        XCTAssertEqual(step.accumulators, Array(repeating: 0, count: 6))
    }

    func testGroupUnitRemovesTheGroupWithTheLowestMean() throws {
        let config = TinyModels.config()
        let s = scores(config)
        // r = 1/2: one of two groups (1536 parameters) and exactly (3840 - 1536) / 96 = 24 neurons per layer.
        let step = try plan(config, s, budget: 23040, unit: .group)
        XCTAssertEqual(step.removedParameters, 23040)
        for (l, kept) in step.step.layers.enumerated() {
            let lowGroup = s.heads[l][0] + s.heads[l][1] < s.heads[l][2] + s.heads[l][3] ? 0 : 1
            XCTAssertEqual(kept.kvHeads, [1 - lowGroup])
            XCTAssertEqual(kept.heads, lowGroup == 0 ? [2, 3] : [0, 1])
            XCTAssertEqual(kept.neurons.count, 24)
        }
    }

    func testMHARemovesSingleHeadsWithTheirKVHeads() throws {
        let config = TinyModels.config(heads: 4, kvHeads: 4)
        let s = scores(config)
        // Per layer 8704 prunable; r = 1/4: one head (1024) and (2176 - 1024) / 96 = 12 neurons.
        let step = try plan(config, s, budget: 13056, unit: .query)
        XCTAssertEqual(step.removedParameters, 13056)
        for (l, kept) in step.step.layers.enumerated() {
            let lowest = s.heads[l].indices.min { s.heads[l][$0] < s.heads[l][$1] }!
            XCTAssertEqual(kept.heads, (0..<4).filter { $0 != lowest })
            XCTAssertEqual(kept.kvHeads, kept.heads)
            XCTAssertEqual(kept.neurons.count, 36)
        }
    }

    func testAccumulatorCarriesAcrossSteps() throws {
        var config = TinyModels.config()
        var accumulators = Array(repeating: 0.0, count: 6)
        var heads: [Int] = [], carried: [Double] = []
        var total = 0, budgets = 0
        for _ in 0..<2 {
            // r = 0.3 of the current prunable parameters: 0.6 of a query unit per layer and step.
            let prunable = config.layers.reduce(0) { $0 + config.blockParameters($1) - 64 }
            let budget = Int((0.3 * Double(prunable)).rounded())
            let step = try plan(config, scores(config), budget: budget, accumulators: accumulators)
            accumulators = step.accumulators
            config = step.step.config(of: config)
            heads.append(config.layers[0].heads)
            carried.append(accumulators[0])
            XCTAssertEqual(Set(config.layers).count, 1, "identical layers stay identical")
            XCTAssertLessThanOrEqual(abs(step.removedParameters - budget), 6 * 48)
            total += step.removedParameters
            budgets += budget
        }
        XCTAssertEqual(heads, [4, 2], "the unit goes when the account reaches 0.6 + 0.6 = 1.2")
        XCTAssertEqual(carried[0], 0.6, accuracy: 1e-4)
        XCTAssertEqual(carried[1], 0.2, accuracy: 1e-4)
        XCTAssertLessThanOrEqual(abs(total - budgets), 2 * 6 * 48)
    }

    func testSmolLM2ShapedBlockSizedStepsStayOnBudget() throws {
        // SmolLM2-135M shapes: one query unit (221,184) is more than a 30th of a block, so the units of the 30
        // layers fall due together and must be spread over steps.
        var config = ModelConfig(vocabSize: 49152, hidden: 576, headDim: 64,
                                 layers: Array(repeating: LayerShape(heads: 9, kvHeads: 3, intermediate: 1536), count: 30),
                                 tiedEmbeddings: true)
        let budget = config.blockParameters(config.layers[0])
        var accumulators = Array(repeating: 0.0, count: 30)
        var total = 0
        for index in 0..<12 {
            let step = try plan(config, scores(config, seed: UInt64(index)), budget: budget, accumulators: accumulators)
            XCTAssertLessThanOrEqual(abs(step.removedParameters - budget), 30 * 3 * 576 / 2, "step \(index)")
            accumulators = step.accumulators
            config = step.step.config(of: config)
            total += step.removedParameters
        }
        XCTAssertLessThan(config.layers.map(\.heads).max()!, 9, "head units were removed along the way")
        XCTAssertLessThanOrEqual(abs(total - 12 * budget), 12 * 30 * 3 * 576 / 2)
    }

    func testUnitsThatDoNotFitTheBudgetWait() throws {
        let config = TinyModels.config()
        // Every layer owes almost a group; r = 0.05 adds 0.1: six groups (9216) cannot fit a 2304 budget.
        let step = try plan(config, scores(config), budget: 2304, unit: .group, accumulators: Array(repeating: 0.95, count: 6))
        let groupsRemoved = step.step.layers.filter { $0.kvHeads.count == 1 }.count
        XCTAssertEqual(groupsRemoved, 1, "one group of 1536 fits in 2304")
        XCTAssertLessThanOrEqual(abs(step.removedParameters - 2304), 6 * 48)
        XCTAssertEqual(step.accumulators.filter { $0 >= 1 }.count, 5, "the other layers still owe their group")
        // The next step pays them, as far as its budget goes.
        let next = try plan(step.step.config(of: config), scores(step.step.config(of: config)), budget: 9000,
                            unit: .group, accumulators: step.accumulators)
        XCTAssertEqual(next.step.layers.filter { $0.kvHeads.count == 1 }.count, 6)
    }

    func testAtLeastOneUnitAndNeuronStay() throws {
        for unit in [PruneSettings.GQAUnit.query, .group] {
            let config = TinyModels.config()
            let step = try plan(config, scores(config), budget: 10_000_000, unit: unit)
            for kept in step.step.layers {
                XCTAssertEqual(kept.neurons.count, 1)
                XCTAssertEqual(kept.heads.count, 2, "one query head per group, or one group of two")
                XCTAssertEqual(kept.kvHeads.count, unit == .query ? 2 : 1)
            }
        }
    }

    func testReversedAndRandomCriteria() throws {
        let config = TinyModels.config()
        let s = scores(config)
        let amp = try plan(config, s, budget: 23040, criterion: .amp)
        let reversed = try plan(config, s, budget: 23040, criterion: .reversed)
        for (a, r) in zip(amp.step.layers, reversed.step.layers) {
            XCTAssertEqual(Set(a.heads).intersection(r.heads), [], "opposite heads in each group")
            XCTAssertEqual(a.neurons.count, r.neurons.count)
            // 29 of 48 removed: amp keeps the top 19, reversed the bottom 19.
            XCTAssertEqual(Set(a.neurons).intersection(r.neurons), [])
        }
        let random1 = try plan(config, s, budget: 23040, criterion: .random, seed: 5)
        let random2 = try plan(config, s, budget: 23040, criterion: .random, seed: 5)
        let random3 = try plan(config, s, budget: 23040, criterion: .random, seed: 6)
        XCTAssertEqual(random1, random2)
        XCTAssertNotEqual(random1.step, random3.step)
        XCTAssertEqual(random1.removedParameters, amp.removedParameters)
    }

    func testMismatchedInputsThrow() {
        let config = TinyModels.config()
        var s = scores(config)
        s.neurons[2].removeLast()
        XCTAssertThrowsError(try plan(config, s, budget: 100)) { XCTAssert("\($0)".contains("AMP scores")) }
        XCTAssertThrowsError(try plan(config, scores(config), budget: 100, accumulators: [0])) {
            XCTAssert("\($0)".contains("accumulators"))
        }
    }
}
