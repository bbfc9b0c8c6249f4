import XCTest
import Shared
@testable import Coordinator

final class PruneSettingsTests: XCTestCase {
    func testDefaultsAndRawValues() throws {
        let settings = try PruneSettings(target: 0.2)
        XCTAssertEqual(settings.method, .mop)
        XCTAssertEqual(settings.selection, .loss)
        XCTAssertEqual(settings.criterion, .amp)
        XCTAssertEqual(settings.depthRule, .similarity)
        XCTAssertEqual(settings.gqaUnit, .query)
        XCTAssertEqual(PruneSettings.Method(rawValue: "amp"), .amp)
        XCTAssertEqual(PruneSettings.DepthRule.allCases.map(\.rawValue), ["similarity", "position", "loss"])
        XCTAssertEqual(PruneSettings.Selection.allCases.map(\.rawValue), ["loss", "kl", "random", "path"])
    }

    /// A path selection says where the taken path left the given one; other selections and an exact follow say nothing.
    func testPathDepartureIsSaid() throws {
        let settings = try PruneSettings(target: 0.2, selection: .path, path: "LGL")
        XCTAssertNil(settings.pathDeparture(taken: "LGL"))
        XCTAssertNil(try PruneSettings(target: 0.2).pathDeparture(taken: "GGL"))
        XCTAssertEqual(settings.pathDeparture(taken: "LG"),
                       "the target was reached after 2 of the 3 steps of --path LGL; the rest were not taken")
        XCTAssertEqual(settings.pathDeparture(taken: "LGLGG"),
                       "--path LGL ended after 3 steps short of the target; the search went on with width steps: LGLGG")
        XCTAssertEqual(settings.pathDeparture(taken: "LGG"),
                       "step 3 of --path LGL asked for depth, but only a width step could be taken there: LGG")
    }

    func testBadSettingsThrow() {
        for target in [0, 1, 1.5, -0.1, .nan, .infinity] {
            XCTAssertThrowsError(try PruneSettings(target: target)) { XCTAssert("\($0)".contains("outside (0, 1)")) }
        }
        XCTAssertThrowsError(try PruneSettings(target: 0.3, selection: .path, path: "LXG")) {
            XCTAssert("\($0)".contains("character \"X\""))
        }
        XCTAssertThrowsError(try PruneSettings(target: 0.3, selection: .path)) { XCTAssert("\($0)".contains("needs a path")) }
        XCTAssertThrowsError(try PruneSettings(target: 0.3, path: "LG")) { XCTAssert("\($0)".contains("not path")) }
    }

    func testSettingsRoundTripAsSnakeCaseJSON() throws {
        let settings = try PruneSettings(target: 0.35, method: .depth, selection: .path, path: "LLG", criterion: .reversed,
                                         depthRule: .loss, gqaUnit: .group, seed: 12_345_678_901_234_567_890)
        let data = CoordinatorJSON.encode(settings)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["target", "method", "selection", "path", "criterion", "depth_rule", "gqa_unit", "seed",
                                          "candidate_scoring"])
        XCTAssertEqual(object["candidate_scoring"] as? String, "cross-fit")
        XCTAssertEqual(try CoordinatorJSON.decode(PruneSettings.self, from: data, file: "s"), settings)
        // In-sample scoring is written as files from before cross-fitting were: without the key, which reads back as it.
        let inSample = try PruneSettings(target: 0.35, candidateScoring: .inSample)
        let inSampleData = CoordinatorJSON.encode(inSample)
        XCTAssertNil(try XCTUnwrap(JSONSerialization.jsonObject(with: inSampleData) as? [String: Any])["candidate_scoring"])
        XCTAssertEqual(try CoordinatorJSON.decode(PruneSettings.self, from: inSampleData, file: "s"), inSample)
    }

    func testALatencyTargetReplacesTheCompressionTarget() throws {
        let settings = try PruneSettings(targetLatency: 0.6, beam: 2)
        XCTAssertNil(settings.target)
        XCTAssertEqual(settings.targetDescription, "latency 0.6 of the dense model's")
        let data = CoordinatorJSON.encode(settings)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["target_latency"] as? Double, 0.6)
        XCTAssertNil(object["target"], "no compression target is written")
        XCTAssertEqual(try CoordinatorJSON.decode(PruneSettings.self, from: data, file: "s"), settings)
        XCTAssertEqual(settings.differences(from: try PruneSettings(target: 0.6, beam: 2)),
                       ["target none vs 0.6", "target_latency 0.6 vs none"])
        for ratio in [0, 1, -0.5, .nan] {
            XCTAssertThrowsError(try PruneSettings(targetLatency: ratio)) { XCTAssert("\($0)".contains("target latency")) }
        }
        XCTAssertThrowsError(try PruneSettings()) { XCTAssert("\($0)".contains("no target")) }
        XCTAssertThrowsError(try PruneSettings(target: 0.2, targetLatency: 0.6)) { XCTAssert("\($0)".contains("give one")) }
    }
}
