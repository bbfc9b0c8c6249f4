import XCTest
import Shared
@testable import Coordinator

final class SearchCheckpointTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func search(_ settings: PruneSettings, directory: String?, resume: String? = nil, maxIterations: Int? = nil) throws -> SearchResult {
        let fake = FakeScorer(config: TinyModels.config())
        return try MoPSearch(settings: settings, original: fake.config, outputDirectory: directory, score: fake.callAsFunction)
            .run(resumingFrom: resume, maxIterations: maxIterations)
    }

    func withoutTimes(_ records: [SearchRecord]) -> [SearchRecord] {
        records.map { var record = $0; record.seconds = 0; return record }
    }

    func testResumeGivesTheUninterruptedResult() throws {
        for settings in [try PruneSettings(target: 0.4, selection: .random, criterion: .random, seed: 9),
                         try PruneSettings(target: 0.4, method: .width),
                         try PruneSettings(target: 0.4)] {
            let whole = try search(settings, directory: nil)
            XCTAssertGreaterThan(whole.records.count, 2)
            for k in 1..<whole.records.count {
                let partial = try search(settings, directory: directory, maxIterations: k)
                XCTAssertFalse(partial.finished)
                XCTAssertEqual(partial.records.count, k)
                let resumed = try search(settings, directory: directory, resume: directory)
                XCTAssertTrue(resumed.finished)
                XCTAssertEqual(resumed.structure, whole.structure, "resumed after \(k) of \(settings)")
                XCTAssertEqual(withoutTimes(resumed.records), withoutTimes(whole.records))
                XCTAssertEqual(Array(resumed.records.prefix(k)), partial.records, "the first k records come from the checkpoint")
            }
        }
    }

    func testCheckpointRoundTripsAndHoldsTheState() throws {
        let settings = try PruneSettings(target: 0.4, selection: .random, criterion: .random, seed: .max)
        let partial = try search(settings, directory: directory, maxIterations: 2)
        let checkpoint = try SearchCheckpoint.load(directory: directory)
        XCTAssertEqual(checkpoint.settings, settings)
        XCTAssertEqual(checkpoint.structure, partial.structure)
        XCTAssertEqual(checkpoint.records, partial.records)
        XCTAssertEqual(checkpoint.accumulators.count, partial.structure.layers.count)
        XCTAssertEqual(checkpoint.randomState.count, 16)
        XCTAssertEqual(try CoordinatorJSON.decode(SearchCheckpoint.self, from: CoordinatorJSON.encode(checkpoint), file: "x"),
                       checkpoint)
        var rng = SeededRandom(seed: 0xFFFF_FFFF_FFFF_FFF0)
        _ = rng.next()
        let restored = SearchCheckpoint(settings: settings, originalParameters: 1, structure: checkpoint.structure,
                                        accumulators: checkpoint.accumulators, random: rng, records: checkpoint.records)
        var copy = try XCTUnwrap(restored.random)
        XCTAssertEqual(copy.next(), rng.next(), "the generator continues exactly")
    }

    func testMismatchedSettingsOrModelAreRefused() throws {
        let settings = try PruneSettings(target: 0.4, seed: 1)
        _ = try search(settings, directory: directory, maxIterations: 1)
        let file = SearchCheckpoint.path(in: directory)
        XCTAssertThrowsError(try search(PruneSettings(target: 0.4, seed: 2), directory: directory, resume: directory)) {
            XCTAssertEqual(($0 as? MopError)?.file, file)
            XCTAssert("\($0)".contains("seed 1 vs 2"), "\($0)")
        }
        XCTAssertThrowsError(try search(PruneSettings(target: 0.3, method: .width, seed: 1), directory: directory,
                                        resume: directory)) {
            XCTAssert("\($0)".contains("target 0.4 vs 0.3") && "\($0)".contains("method mop vs width"), "\($0)")
        }
        let other = FakeScorer(config: TinyModels.config(layers: 5))
        XCTAssertThrowsError(try MoPSearch(settings: settings, original: other.config, outputDirectory: nil,
                                           score: other.callAsFunction).run(resumingFrom: directory)) {
            XCTAssert("\($0)".contains(file) && "\($0)".contains("parameters"), "\($0)")
        }
        let empty = (directory as NSString).appendingPathComponent("empty")
        XCTAssertThrowsError(try search(settings, directory: nil, resume: empty)) {
            XCTAssert("\($0)".contains("\(empty)/checkpoint.json: cannot read"), "\($0)")
        }
    }

    func testMalformedCheckpointsNameTheFileAndTheProblem() throws {
        _ = try search(PruneSettings(target: 0.4), directory: directory, maxIterations: 2)
        let file = SearchCheckpoint.path(in: directory)
        let good = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        func edited(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var object = good
            change(&object)
            return try JSONSerialization.data(withJSONObject: object)
        }
        var records = good["records"] as! [[String: Any]]
        records[0]["branch"] = records[0]["branch"] as? String == "L" ? "G" : "L"
        let cases: [(Data, String)] = [
            (Data("{\"version\": 1, ".utf8), "not valid JSON"),
            (Data("[1, 2]".utf8), "must be"),
            (try edited { $0["structure"] = nil }, "key structure is missing"),
            (try edited { $0["version"] = 7 }, "version 7 is not supported"),
            (try edited { $0["random_state"] = "xyz" }, "random_state \"xyz\" is not 16 hex digits"),
            (try edited { $0["accumulators"] = [0.5] }, "1 accumulators for"),
            (try edited { $0["accumulators"] = Array(repeating: -1, count: 6) }, "finite and non-negative"),
            (try edited { $0["records"] = [] }, "0 iteration records for a path of 2 steps"),
            (try edited { $0["records"] = records }, "records[0] is iteration 1 step"),
            (try edited { $0["settings"] = ["target": 2, "method": "mop", "selection": "loss", "path": "", "criterion": "amp",
                                            "depth_rule": "similarity", "gqa_unit": "query", "seed": 0] }, "target 2.0 is outside (0, 1)"),
            (try edited { $0["settings"] = ["target": 0.4, "method": "sideways", "selection": "loss", "path": "",
                                            "criterion": "amp", "depth_rule": "similarity", "gqa_unit": "query", "seed": 0] },
             "key settings.method is invalid"),
            (try edited { $0["original_parameters"] = "many" }, "key original_parameters must be"),
        ]
        for (data, problem) in cases {
            try data.write(to: URL(fileURLWithPath: file))
            XCTAssertThrowsError(try SearchCheckpoint.load(directory: directory), problem) {
                XCTAssertEqual(($0 as? MopError)?.file, file)
                XCTAssert("\($0)".contains(problem), "expected \(problem) in \($0)")
            }
        }
        // A structure that does not fit the model is caught when resuming.
        try edited { object in
            var structure = object["structure"] as! [String: Any]
            structure["original_layers"] = 9
            object["structure"] = structure
        }.write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try search(PruneSettings(target: 0.4), directory: nil, resume: directory)) {
            XCTAssert("\($0)".contains(file) && "\($0)".contains("original_layers is 9"), "\($0)")
        }
    }

    // Issue 30 case 4: the model and calibration a checkpoint was written for.
    func testResumingOnOtherInputsIsRefusedAndACheckpointWithoutThemIsNotChecked() throws {
        let settings = try PruneSettings(target: 0.4, seed: 1)
        let inputs = SearchInputs(modelChecksum: "00000000000000aa", calibrationChecksum: "00000000000000bb",
                                  calibrationSamples: 8, seqLen: 64, calibrationSeed: nil)
        func search(_ given: SearchInputs, resume: String?) throws -> SearchResult {
            let fake = FakeScorer(config: TinyModels.config())
            return try MoPSearch(settings: settings, original: fake.config, outputDirectory: directory, inputs: given,
                                 scorer: CandidateScorer(fake.callAsFunction)).run(resumingFrom: resume, maxIterations: 1)
        }
        _ = try search(inputs, resume: nil)
        let file = SearchCheckpoint.path(in: directory)
        XCTAssertEqual(try SearchCheckpoint.load(directory: directory).inputs, inputs)
        let changes: [((inout SearchInputs) -> Void, String)] = [
            ({ $0.modelChecksum = "00000000000000cc" }, "model checksum 00000000000000aa vs 00000000000000cc"),
            ({ $0.calibrationChecksum = "00000000000000dd" }, "calibration file checksum 00000000000000bb vs 00000000000000dd"),
            ({ $0.calibrationSamples = 9 }, "calibration_samples 8 vs 9"),
            ({ $0.seqLen = 32 }, "seq_len 64 vs 32"),
            ({ $0.calibrationSeed = 3 }, "calibration_seed none vs 3"),
        ]
        for (change, difference) in changes {
            var other = inputs
            change(&other)
            XCTAssertThrowsError(try search(other, resume: directory)) {
                XCTAssertEqual(($0 as? MopError)?.file, file)
                XCTAssert("\($0)".contains("was written for other inputs (checkpoint vs requested: \(difference))"), "\($0)")
            }
        }
        XCTAssertNoThrow(try search(inputs, resume: directory))

        // An older mop's checkpoint, without inputs, resumes (the command warns).
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        json["inputs"] = nil
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
        XCTAssertNil(try SearchCheckpoint.load(directory: directory).inputs)
        var other = inputs
        other.modelChecksum = "00000000000000cc"
        XCTAssertNoThrow(try search(other, resume: directory))
    }

    func testMalformedInputsNameTheKey() throws {
        let settings = try PruneSettings(target: 0.4)
        let fake = FakeScorer(config: TinyModels.config())
        let inputs = SearchInputs(modelChecksum: "00000000000000aa", calibrationChecksum: "00000000000000bb",
                                  calibrationSamples: 8, seqLen: 64, calibrationSeed: 5)
        _ = try MoPSearch(settings: settings, original: fake.config, outputDirectory: directory, inputs: inputs,
                          scorer: CandidateScorer(fake.callAsFunction)).run(maxIterations: 1)
        let file = SearchCheckpoint.path(in: directory)
        let good = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        let cases: [(String, Any, String)] = [
            ("model_checksum", "xyz", "inputs.model_checksum \"xyz\" is not 16 hex digits"),
            ("calibration_samples", 0, "inputs.calibration_samples 0 is not positive"),
            ("seq_len", 1, "inputs.seq_len 1 is less than 2"),
            ("calibration_seed", -1, "key inputs.calibration_seed is invalid: must be an integer"),
            ("calibration_checksum", 5, "key inputs.calibration_checksum"),
        ]
        for (key, value, problem) in cases {
            var object = good, edited = good["inputs"] as! [String: Any]
            edited[key] = value
            object["inputs"] = edited
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: file))
            XCTAssertThrowsError(try SearchCheckpoint.load(directory: directory), problem) {
                XCTAssertEqual(($0 as? MopError)?.file, file)
                XCTAssert("\($0)".contains(problem), "expected \(problem) in \($0)")
            }
        }
    }
}
