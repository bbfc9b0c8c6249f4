import XCTest
import Shared
@testable import Coordinator

/// The scorer hands independent questions to the distribution as one batch, which rank groups deal out.
final class CandidateScorerTests: XCTestCase {
    let current = PruningStructure.identity(TinyModels.config(layers: 3))

    func testMeansAreAskedAsOneOrderedBatch() throws {
        var batches: [[ScoringRequest]] = []
        let scorer = CandidateScorer(batch: { batch in
            batches.append(batch)
            return batch.indices.map { [Double($0 + 1) * 6, 3] }
        })
        let requests: [ScoringRequest] = [.loss(current: current, step: nil), .klDivergence(current: current, step: nil),
                                          .loss(current: current, step: current)]
        XCTAssertEqual(try scorer.means(requests), [2, 4, 6])
        XCTAssertEqual(batches, [requests])
        XCTAssertEqual(try scorer.means([]), [])
        XCTAssertEqual(batches.count, 1, "an empty batch is not sent")
    }

    func testABatchAnsweredShortIsAnError() {
        let scorer = CandidateScorer(batch: { _ in [[1, 1]] })
        XCTAssertThrowsError(try scorer.means([.loss(current: current, step: nil), .klDivergence(current: current, step: nil)])) {
            XCTAssertEqual("\($0)", "the workers answered 1 of a batch of 2 requests")
        }
    }

    /// A lookahead or a beam asks the same question again; the workers answer it once per run.
    func testARepeatedRequestIsAnsweredFromMemory() throws {
        var asked: [ScoringRequest] = []
        let scorer = CandidateScorer(batch: { batch in
            asked += batch
            return batch.map { request in
                if case .loss = request { return [9, 3] } else { return [4, 2] }
            }
        })
        let loss = ScoringRequest.loss(current: current, step: nil)
        let kl = ScoringRequest.klDivergence(current: current, step: nil)
        XCTAssertEqual(try scorer.means([loss, kl, loss]), [3, 2, 3])
        XCTAssertEqual(asked, [loss, kl], "a request repeated within a batch is asked once")
        XCTAssertEqual(try scorer.means([kl, loss]), [2, 3])
        XCTAssertEqual(asked, [loss, kl], "remembered answers are not asked again")
        XCTAssertEqual(scorer.counts.asked, 2)
        XCTAssertEqual(scorer.counts.remembered, 3)
    }
}
