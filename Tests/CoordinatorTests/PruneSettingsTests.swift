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
        XCTAssertEqual(Set(object.keys), ["target", "method", "selection", "path", "criterion", "depth_rule", "gqa_unit", "seed"])
        XCTAssertEqual(try CoordinatorJSON.decode(PruneSettings.self, from: data, file: "s"), settings)
    }
}
