import XCTest
import Shared
@testable import Coordinator

final class DepthPlannerTests: XCTestCase {
    func testPositionRuleTakesTheThirdToLastBlock() throws {
        let scorer = CandidateScorer { _ in XCTFail("position asks nothing"); return [Double]() }
        for (layers, expected) in [(6, 3), (3, 0), (2, 0)] {
            let config = TinyModels.config(layers: layers)
            let choice = try DepthPlanner.choose(rule: .position, current: .identity(config), config: config, scorer: scorer)
            XCTAssertEqual(choice, DepthChoice(block: expected))
        }
        let one = TinyModels.config(layers: 1)
        XCTAssertNil(try DepthPlanner.choose(rule: .loss, current: .identity(one), config: one, scorer: scorer))
    }

    func testSimilarityRuleTakesTheLeastInfluentialBlock() throws {
        let fake = FakeScorer(config: TinyModels.config(layers: 5))
        let influence = try CandidateScorer(fake.callAsFunction).blockInfluence(current: .identity(fake.config))
        let choice = try DepthPlanner.choose(rule: .similarity, current: .identity(fake.config), config: fake.config,
                                             scorer: CandidateScorer(fake.callAsFunction))
        XCTAssertEqual(choice?.block, influence.indices.min { influence[$0] < influence[$1] })
        XCTAssertTrue(influence.allSatisfy { $0 > 0 && $0 < 2 })
        // Canned answers: [sums..., tokens].
        let canned = CandidateScorer { _ in [4, 1, 3, 0.5, 2, 10] }
        XCTAssertEqual(try DepthPlanner.choose(rule: .similarity, current: .identity(fake.config), config: fake.config,
                                               scorer: canned)?.block, 3)
        let short = CandidateScorer { _ in [4, 1, 10] }
        XCTAssertThrowsError(try DepthPlanner.choose(rule: .similarity, current: .identity(fake.config),
                                                     config: fake.config, scorer: short)) {
            XCTAssert("\($0)".contains("3 block influence values for 5 blocks"))
        }
    }

    func testLossRuleTriesEveryBlock() throws {
        let fake = FakeScorer(config: TinyModels.config(layers: 4))
        let scorer = CandidateScorer(fake.callAsFunction)
        let current = PruningStructure.identity(fake.config)
        let choice = try XCTUnwrap(DepthPlanner.choose(rule: .loss, current: current, config: fake.config, scorer: scorer))
        XCTAssertEqual(fake.requests.count, 4)
        // Reference: the loss of the physically pruned model without each block.
        let losses = try (0..<4).map { block -> Double in
            var kept = current
            kept.layers.remove(at: block)
            let result = NextTokenLoss.sum(Transformer(weights: try kept.apply(to: fake.original)), batch: fake.batch)
            return result.negativeLogLikelihood / Double(result.tokens)
        }
        XCTAssertEqual(choice.block, losses.indices.min { losses[$0] < losses[$1] })
        // The search asks the chosen block's loss again: it is answered from memory, and it is the reference's.
        let asked = try scorer.means([.loss(current: current, step: DepthPlanner.step(removing: choice.block, from: fake.config))])
        XCTAssertEqual(fake.requests.count, 4)
        XCTAssertEqual(asked[0], losses[choice.block], accuracy: 1e-5 * losses[choice.block])
    }

    func testStepRemovesOneBlock() {
        let config = TinyModels.config(layers: 4)
        let step = DepthPlanner.step(removing: 2, from: config)
        XCTAssertEqual(step.layers.map(\.index), [0, 1, 3])
        XCTAssertEqual(step.path, "L")
        XCTAssertEqual(step.originalLayers, 4)
        XCTAssertEqual(step.layers[0].neurons.count, 48)
    }
}
