import XCTest
import Shared
@testable import Coordinator

/// Cross-fitted scoring (docs/design.md#cross-fitted-scoring): a candidate built from one half of the calibration
/// set is scored on the other half, and the step taken is built from the whole set.
final class CrossFitSearchTests: XCTestCase {
    let config = TinyModels.config()

    func search(_ settings: PruneSettings) throws -> (SearchResult, FakeScorer) {
        let fake = FakeScorer(config: config)
        let result = try MoPSearch(settings: settings, original: config, outputDirectory: nil, score: fake.callAsFunction).run()
        return (result, fake)
    }

    func testAWidthCandidateIsScoredOnTheHalfItsStatisticsDidNotSee() throws {
        let (result, fake) = try search(try PruneSettings(target: 0.1, method: .width, candidateScoring: .crossFit))
        let record = try XCTUnwrap(result.records.first)
        let identity = PruningStructure.identity(config)
        // Written out: each half's AMP scores plan a step of the same budget, scored on the other half's tokens.
        var negativeLogLikelihood = 0.0, tokens = 0.0
        for fold in CalibrationFold.halves {
            let scores = AMPScores(packedSums: try fake(.ampStatistics(current: identity, fold: fold)), config: config)
            var random = SeededRandom(seed: 0)
            let step = try WidthPlanner.plan(config: config, scores: scores, budget: try XCTUnwrap(record.widthBudget),
                                             criterion: .amp, unit: .query,
                                             accumulators: [Double](repeating: 0, count: config.layers.count), random: &random).step
            let answer = try fake(.loss(current: identity, step: step, fold: fold.complement))
            negativeLogLikelihood += answer[0]
            tokens += answer[1]
        }
        XCTAssertEqual(try XCTUnwrap(record.widthLoss), negativeLogLikelihood / tokens, accuracy: 1e-12)

        // The step taken is the whole set's, as the in-sample search takes it; only its score differs.
        let (inSample, _) = try search(try PruneSettings(target: 0.1, method: .width, candidateScoring: .inSample))
        XCTAssertEqual(result.structure, inSample.structure)
        let inSampleLoss = try XCTUnwrap(inSample.records.first?.widthLoss)
        XCTAssertGreaterThan(abs(inSampleLoss - negativeLogLikelihood / tokens), 1e-4, "scored on other tokens")
    }

    func testADepthCandidateOfAFixedBlockIsScoredOnTheWholeSet() throws {
        // The position rule's block does not depend on the data, so both halves remove it: the pooled held-out loss
        // is the whole set's loss of removing it.
        let (result, fake) = try search(try PruneSettings(target: 0.2, method: .depth, depthRule: .position, candidateScoring: .crossFit))
        let record = try XCTUnwrap(result.records.first)
        XCTAssertEqual(record.branch, "L")
        let step = DepthPlanner.step(removing: try XCTUnwrap(record.depthBlock), from: config)
        let whole = try fake(.loss(current: .identity(config), step: step))
        // Two half passes instead of one whole: the sums differ in fp32 last bits only.
        XCTAssertEqual(try XCTUnwrap(record.depthLoss), whole[0] / whole[1], accuracy: 1e-7)
    }

    func testTheCrossFitAsksAsManyForwardPassesAsTheInSampleSearch() throws {
        // A half costs half a pass: the statistics of both halves, and a candidate scored on both, are one pass each.
        // The depth rule `loss` scores every block on each half (6 passes), and the held-out pairs are among those
        // answers; the width statistics and candidate make 2 more.
        for rule in [PruneSettings.DepthRule.similarity, .loss] {
            var passes: [Double] = []
            for scoring in PruneSettings.CandidateScoring.allCases {
                let fake = FakeScorer(config: config)
                let settings = try PruneSettings(target: 0.3, depthRule: rule, candidateScoring: scoring)
                let result = try MoPSearch(settings: settings, original: config, outputDirectory: nil,
                                           score: fake.callAsFunction).run(maxIterations: 1)
                XCTAssertEqual(result.records.count, 1)
                passes.append(fake.requests.reduce(0) { sum, request in
                    let fold: CalibrationFold? = switch request {
                    case let .loss(_, _, fold), let .klDivergence(_, _, fold): fold
                    case let .ampStatistics(_, fold), let .blockInfluence(_, fold): fold
                    case .quantImportance, .stop: nil
                    }
                    return sum + (fold == nil ? 1 : 0.5)
                })
            }
            XCTAssertEqual(passes[0], passes[1], "\(rule): cross-fit vs in-sample passes")
            XCTAssertEqual(passes[0], rule == .loss ? 8 : 4, "\(rule)")
        }
    }
}
