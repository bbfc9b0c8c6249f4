import XCTest
@testable import Shared

final class CalibrationFoldTests: XCTestCase {
    func testFoldsInterleaveAndCoverEverySequenceOnce() {
        let halves = CalibrationFold.halves
        for index in 0..<9 { XCTAssertEqual(halves.filter { $0.contains(index) }.count, 1) }
        XCTAssertTrue(halves[0].contains(4))
        XCTAssertTrue(halves[1].contains(7))
        XCTAssertEqual(halves[0].complement, halves[1])
        XCTAssertEqual(halves[1].complement, halves[0])
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
