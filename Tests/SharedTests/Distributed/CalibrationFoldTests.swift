import XCTest
@testable import Shared

final class CalibrationFoldTests: XCTestCase {
    func testFoldsInterleaveAndCoverEverySequenceOnce() {
        for count in [2, 3, 8] {
            let folds = CalibrationFold.all(count)
            XCTAssertEqual(folds.count, count)
            for index in 0..<19 { XCTAssertEqual(folds.filter { $0.contains(index) }.count, 1) }
            XCTAssertTrue(folds[4 % count].contains(4))
            XCTAssertTrue(folds[7 % count].contains(7))
            for fold in folds {
                XCTAssertEqual(fold.others.count, count - 1)
                XCTAssertFalse(fold.others.contains(fold))
                XCTAssertEqual(Set(fold.others + [fold]), Set(folds))
            }
        }
    }

    func testARequestWithAFoldRoundTripsAndABadFoldIsRefused() throws {
        let request = ScoringRequest.ampStatistics(current: .identity(ModelConfig(vocabSize: 5, hidden: 4, headDim: 2,
            layers: [LayerShape(heads: 2, kvHeads: 1, intermediate: 3)], tiedEmbeddings: true, maxPositions: 8)),
            fold: CalibrationFold(1, of: 2))
        XCTAssertEqual(try ScoringRequest.decode(request.encoded()), request)
        for bad in [#"{"index":2,"count":2}"#, #"{"index":0,"count":1}"#, #"{"index":-1,"count":2}"#] {
            XCTAssertThrowsError(try JSONDecoder().decode(CalibrationFold.self, from: Data(bad.utf8)), bad)
        }
    }
}
