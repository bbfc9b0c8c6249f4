import XCTest
import Shared
@testable import Coordinator

/// Cross-fitted scoring (docs/design.md#cross-fitted-scoring): a candidate built from all calibration folds but one
/// is scored on that one, and the step taken is built from the whole set.
final class CrossFitSearchTests: XCTestCase {
    let config = TinyModels.config()

    func search(_ settings: PruneSettings) throws -> (SearchResult, FakeScorer) {
        let fake = FakeScorer(config: config)
        let result = try MoPSearch(settings: settings, original: config, outputDirectory: nil, score: fake.callAsFunction).run()
        return (result, fake)
    }

    func testAWidthCandidateIsScoredOnTheFoldItsStatisticsDidNotSee() throws {
        let (inSample, _) = try search(try PruneSettings(target: 0.1, method: .width, candidateScoring: .inSample))
        for folds in [2, 3, 5] {
            let (result, fake) = try search(try PruneSettings(target: 0.1, method: .width, candidateScoring: .crossFit,
                                                              crossFitFolds: folds))
            let record = try XCTUnwrap(result.records.first)
            let identity = PruningStructure.identity(config)
            // Written out: the other folds' AMP statistics, added, plan a step of the same budget, scored on this
            // fold's tokens; the score pools every fold's.
            var negativeLogLikelihood = 0.0, tokens = 0.0
            for fold in CalibrationFold.all(folds) {
                var sums: [Double] = []
                for other in CalibrationFold.all(folds) where other != fold {
                    let answer = try fake(.ampStatistics(current: identity, fold: other))
                    sums = sums.isEmpty ? answer : zip(sums, answer).map { $0 + $1 }
                }
                let scores = AMPScores(packedSums: sums, config: config)
                var random = SeededRandom(seed: 0)
                let step = try WidthPlanner.plan(config: config, scores: scores, budget: try XCTUnwrap(record.widthBudget),
                                                 criterion: .amp, unit: .query,
                                                 accumulators: [Double](repeating: 0, count: config.layers.count), random: &random).step
                let answer = try fake(.loss(current: identity, step: step, fold: fold))
                negativeLogLikelihood += answer[0]
                tokens += answer[1]
            }
            XCTAssertEqual(try XCTUnwrap(record.widthLoss), negativeLogLikelihood / tokens, accuracy: 1e-12, "\(folds) folds")

            // The step taken is the whole set's, as the in-sample search takes it; only its score differs.
            XCTAssertEqual(result.structure, inSample.structure, "\(folds) folds")
            let inSampleLoss = try XCTUnwrap(inSample.records.first?.widthLoss)
            XCTAssertGreaterThan(abs(inSampleLoss - negativeLogLikelihood / tokens), 1e-4, "\(folds) folds: scored on other tokens")
        }
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
        // A fold of k costs 1/k of a pass: the statistics of all folds, and a candidate scored on all, are one pass
        // each, whatever k. The depth rule `loss` scores every block on each fold (6 passes), and the held-out
        // pairs are among those answers; the width statistics and candidate make 2 more.
        for rule in [PruneSettings.DepthRule.similarity, .loss] {
            for (scoring, folds) in [(PruneSettings.CandidateScoring.inSample, 2), (.crossFit, 2), (.crossFit, 3), (.crossFit, 4)] {
                let fake = FakeScorer(config: config)
                let settings = try PruneSettings(target: 0.3, depthRule: rule, candidateScoring: scoring, crossFitFolds: folds)
                let result = try MoPSearch(settings: settings, original: config, outputDirectory: nil,
                                           score: fake.callAsFunction).run(maxIterations: 1)
                XCTAssertEqual(result.records.count, 1)
                let passes = fake.requests.reduce(0.0) { sum, request in
                    let fold: CalibrationFold? = switch request {
                    case let .loss(_, _, fold), let .klDivergence(_, _, fold): fold
                    case let .ampStatistics(_, fold), let .blockInfluence(_, fold): fold
                    case .quantImportance, .stop: nil
                    }
                    return sum + 1 / Double(fold?.count ?? 1)
                }
                XCTAssertEqual(passes, rule == .loss ? 8 : 4, accuracy: 1e-9, "\(rule), \(scoring) with \(folds) folds")
            }
        }
    }

    func testFoldsAreCheckedAndKeptInCheckpoints() throws {
        XCTAssertThrowsError(try PruneSettings(target: 0.2, crossFitFolds: 1)) { error in
            XCTAssertTrue("\(error)".contains("cross-fit folds 1"), "\(error)")
        }
        let settings = try PruneSettings(target: 0.2, crossFitFolds: 4)
        let decoded = try JSONDecoder().decode(PruneSettings.self, from: try JSONEncoder().encode(settings))
        XCTAssertEqual(decoded.crossFitFolds, 4)
        XCTAssertEqual(decoded.differences(from: try PruneSettings(target: 0.2)), ["cross_fit_folds 4 vs 2"])
        // Two folds are written as files from before k folds were: without the key, which reads back as 2.
        let halves = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(try PruneSettings(target: 0.2))) as? [String: Any]
        XCTAssertNil(halves?["cross_fit_folds"])
    }
}
