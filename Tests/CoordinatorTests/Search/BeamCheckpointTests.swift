import XCTest
import Shared
@testable import Coordinator

final class BeamCheckpointTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-beam-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func search(_ settings: PruneSettings, scorer: @escaping (ScoringRequest) throws -> [Double], saving: Bool,
                resume: Bool = false, maxIterations: Int? = nil) throws -> SearchResult {
        try MoPSearch(settings: settings, original: TinyModels.config(), outputDirectory: saving ? directory : nil,
                      score: scorer).run(resumingFrom: resume ? directory : nil, maxIterations: maxIterations)
    }

    func withoutTimes(_ result: SearchResult) -> ([SearchRecord], [BeamIteration]) {
        (result.records.map { var record = $0; record.seconds = 0; return record },
         result.beam.map { var iteration = $0; iteration.seconds = 0; return iteration })
    }

    func testResumedBeamSearchEndsWhereTheUninterruptedOneDoes() throws {
        let landscape = LandscapeScorer()
        let fake = FakeScorer(config: TinyModels.config())
        let cases: [(PruneSettings, (ScoringRequest) throws -> [Double])] = [
            // On the trap, a resume that lost the second path would end on the greedy LLG.
            (try PruneSettings(target: 0.4, beam: 2), landscape.callAsFunction),
            (try PruneSettings(target: 0.4, beam: 3), fake.callAsFunction),
            (try PruneSettings(target: 0.4, selection: .kl, criterion: .random, seed: 5, beam: 2, lookahead: 1),
             fake.callAsFunction),
        ]
        for (settings, scorer) in cases {
            let whole = try search(settings, scorer: scorer, saving: false)
            XCTAssertGreaterThan(whole.beam.count, 2)
            for k in 1..<whole.beam.count {
                let partial = try search(settings, scorer: scorer, saving: true, maxIterations: k)
                XCTAssertFalse(partial.finished)
                let checkpoint = try SearchCheckpoint.load(directory: directory)
                XCTAssertEqual(checkpoint.paths.map(\.structure.path), whole.beam[k - 1].kept.map(\.path),
                               "the checkpoint holds every kept path")
                XCTAssertGreaterThan(checkpoint.paths.count, 1)
                let resumed = try search(settings, scorer: scorer, saving: true, resume: true)
                XCTAssertTrue(resumed.finished)
                XCTAssertEqual(resumed.structure, whole.structure, "resumed after \(k) of \(settings)")
                XCTAssertEqual(withoutTimes(resumed).0, withoutTimes(whole).0)
                XCTAssertEqual(withoutTimes(resumed).1, withoutTimes(whole).1)
                XCTAssertEqual(Array(resumed.beam.prefix(k)), partial.beam, "the first k iterations come from the checkpoint")
            }
        }
        XCTAssertEqual(try search(PruneSettings(target: 0.4, beam: 2), scorer: landscape.callAsFunction,
                                  saving: false).structure.path, "GLG")
    }

    func testGreedyCheckpointOfVersionOneResumes() throws {
        let settings = try PruneSettings(target: 0.4)
        let fake = FakeScorer(config: TinyModels.config())
        let whole = try search(settings, scorer: fake.callAsFunction, saving: false)
        _ = try search(settings, scorer: fake.callAsFunction, saving: true, maxIterations: 1)
        // Version 1 had no objective or score and no other paths.
        let file = SearchCheckpoint.path(in: directory)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        XCTAssertEqual(object["version"] as? Int, 2)
        XCTAssertNotNil(object["objective"])
        XCTAssertNil(object["other_paths"], "a greedy checkpoint has one path")
        XCTAssertNil(object["beam"])
        XCTAssertNil((object["settings"] as? [String: Any])?["beam"], "greedy settings read as before")
        object["version"] = 1
        object["objective"] = nil
        object["score"] = nil
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: file))
        let resumed = try search(settings, scorer: fake.callAsFunction, saving: true, resume: true)
        XCTAssertEqual(resumed.structure, whole.structure)
        XCTAssertEqual(withoutTimes(resumed).0, withoutTimes(whole).0)
    }

    func testMalformedBeamCheckpointsNameTheFileAndThePath() throws {
        let landscape = LandscapeScorer()
        let settings = try PruneSettings(target: 0.4, beam: 2)
        _ = try search(settings, scorer: landscape.callAsFunction, saving: true, maxIterations: 1)
        let file = SearchCheckpoint.path(in: directory)
        let good = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        XCTAssertEqual(good["structure"].flatMap { ($0 as? [String: Any])?["path"] } as? String, "L", "the leader on top")
        func edited(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var object = good
            change(&object)
            return try JSONSerialization.data(withJSONObject: object)
        }
        func editedOther(_ change: (inout [String: Any]) -> Void) throws -> Data {
            try edited { object in
                var others = object["other_paths"] as! [[String: Any]]
                change(&others[0])
                object["other_paths"] = others
            }
        }
        let cases: [(Data, String)] = [
            (try editedOther { $0["random_state"] = "xyz" }, "other_paths[0].random_state \"xyz\" is not 16 hex digits"),
            (try editedOther { $0["accumulators"] = [0.5] }, "other_paths[0]: 1 accumulators for 6 layers"),
            (try editedOther { $0["records"] = [] }, "other_paths[0]: 0 iteration records for a path of 1 steps"),
            (try editedOther { $0["score"] = "low" }, "key other_paths[0].score must be a number"),
            (try edited { $0["other_paths"] = [good, good] }, "holds 3 paths, more than the beam of 2 keeps"),
            (try edited { $0["version"] = 3 }, "version 3 is not supported (only 1 to 2)"),
        ]
        for (data, problem) in cases {
            try data.write(to: URL(fileURLWithPath: file))
            XCTAssertThrowsError(try SearchCheckpoint.load(directory: directory), problem) {
                XCTAssertEqual(($0 as? MopError)?.file, file)
                XCTAssert("\($0)".contains(problem), "expected \(problem) in \($0)")
            }
        }
        // Another beam width is another search.
        try edited { _ in }.write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try search(PruneSettings(target: 0.4, beam: 3), scorer: landscape.callAsFunction,
                                        saving: false, resume: true)) {
            XCTAssert("\($0)".contains("beam 2 vs 3"), "\($0)")
        }
    }
}
