import XCTest
@testable import Shared

final class MessageEnvelopeTests: XCTestCase {
    func testSealThenOpenGivesThePayloadBack() throws {
        for payload in [[UInt8](), [0], Array("{\"a\": 1}".utf8), [UInt8](repeating: 0xFF, count: 1000)] {
            let sealed = MessageEnvelope.seal(.modelHeader, payload)
            XCTAssertEqual(sealed.count, 16 + payload.count)
            XCTAssertEqual(Array(sealed.prefix(4)), Array("MOPM".utf8))
            XCTAssertEqual(Array(try MessageEnvelope.open(sealed, expecting: .modelHeader, from: "rank 0")), payload)
        }
    }

    func testMalformedFramesAreRefusedWithTheReason() {
        let good = MessageEnvelope.seal(.scoringRequest, Array("xyz".utf8))
        func problem(_ bytes: [UInt8], _ kind: MessageEnvelope.Kind = .scoringRequest) -> String {
            do {
                _ = try MessageEnvelope.open(bytes, expecting: kind, from: "rank 0")
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertTrue(problem(Array(good.prefix(10))).contains("shorter than the 16-byte header"))
        var magic = good
        magic[0] = UInt8(ascii: "X")
        XCTAssertTrue(problem(magic).contains("no MOPM magic"))
        var version = good
        version[4] = 9
        XCTAssertTrue(problem(version).contains("format version 9, this mop speaks 1"), problem(version))
        XCTAssertTrue(problem(good, .modelHeader).contains("it is a scoringRequest message"), problem(good, .modelHeader))
        XCTAssertTrue(problem(good.dropLast()).contains("announces 3 payload bytes, 2 arrived"))
        XCTAssertTrue(problem(good + [0]).contains("announces 3 payload bytes, 4 arrived"))
        XCTAssertEqual(problem(good), "accepted")
    }

    func testScoringRequestsTravelInTheEnvelopeAndKnowTheirAnswerLength() throws {
        let config = TinyConfigs.nonUniform
        let current = PruningStructure.identity(config)
        let request = ScoringRequest.ampStatistics(current: current)
        XCTAssertEqual(try MessageEnvelope.open(request.encoded(), expecting: .scoringRequest, from: "rank 0").count,
                       request.encoded().count - 16)
        XCTAssertThrowsError(try ScoringRequest.decode(MessageEnvelope.seal(.scoringRequest, Array("{\"nonsense\":1}".utf8))))
        XCTAssertEqual(request.answerLength(original: config), 1 + (4 + 48) + (2 + 20) + (3 + 7))
        XCTAssertEqual(ScoringRequest.blockInfluence(current: current).answerLength(original: config), 4)
        XCTAssertEqual(ScoringRequest.loss(current: current, step: nil).answerLength(original: config), 2)
        XCTAssertEqual(ScoringRequest.stop.answerLength(original: config), 0)
    }
}
