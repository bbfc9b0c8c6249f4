import Foundation
import XCTest
@testable import Shared

/// Issue 30 case 4: `--resume` continues a checkpoint only on the inputs it was written for. A model of the same
/// shapes with other weights, another calibration file, another --calibration-samples, --seq-len or
/// --calibration-seed would continue the path on losses that do not belong to it; each is refused with one line
/// naming the checkpoint and the difference. A checkpoint of an older mop, which records none of them, resumes with
/// a warning.
final class ResumeInputsTests: XCTestCase {
    private var directory = ""
    private var model = ""
    private var calibration = ""
    private var out = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-resume-inputs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = try PruneFixtures.tinyModel(in: directory)
        calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        out = directory + "/out"
        let first = try MopProcess.run(args(["--out", out, "--max-iterations", "1"]), timeout: 120)
        XCTAssertEqual(first.status, 0, first.stderr)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func args(_ extra: [String], model: String? = nil, calibration: String? = nil) -> [String] {
        ["prune", model ?? self.model, "--target", "0.3", "--calibration", calibration ?? self.calibration,
         "--calibration-samples", "10", "--seq-len", "128", "--calibration-seed", "5"] + extra
    }

    private func refused(_ args: [String], saying phrase: String, file: StaticString = #filePath, line: UInt = #line) throws {
        // The inputs are compared when the search resumes, after the dense pass: a prune: line comes first.
        let run = try MopProcess.run(args, timeout: 120)
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        let error = run.stderr.split(separator: "\n").filter { $0.hasPrefix("mop: error: ") }
        XCTAssertEqual(error.count, 1, run.stderr, file: file, line: line)
        XCTAssertTrue(run.stderr.contains(out + "/checkpoint.json: was written for other inputs"), run.stderr, file: file, line: line)
        XCTAssertTrue(run.stderr.contains(phrase), "\(run.stderr) does not say \(phrase)", file: file, line: line)
    }

    func testOtherWeightsOfTheSameShapesAreRefused() throws {
        let other = try PruneFixtures.tinyModel(in: directory, name: "other.gguf", seed: 4)
        try refused(args(["--resume", out], model: other), saying: "model checksum")
    }

    /// Under `--stages 2` no rank reads the whole model, yet the checkpoint's model checksum is the whole model's: a
    /// one-process checkpoint resumes in stages on the same file, and another model of the same shapes is refused.
    func testAStagedResumeChecksTheWholeModel() throws {
        let other = try PruneFixtures.tinyModel(in: directory, name: "other.gguf", seed: 4)
        let refused = try MopProcess.mpirun(ranks: 2, args(["--resume", out, "--stages", "2"], model: other), timeout: 180)
        XCTAssertNotEqual(refused.status, 0, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(out + "/checkpoint.json: was written for other inputs"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("model checksum"), refused.stderr)
        let resumed = try MopProcess.mpirun(ranks: 2, args(["--resume", out, "--stages", "2"]), timeout: 180)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertFalse(resumed.stderr.contains("warning"), resumed.stderr)
    }

    func testOtherCalibrationInputsAreRefused() throws {
        let otherFile = directory + "/other.jsonl"
        try (String(contentsOfFile: calibration, encoding: .utf8) + "\n{\"instruction\": \"One more.\", \"input\": \"\", \"output\": \"ok\"}")
            .write(toFile: otherFile, atomically: true, encoding: .utf8)
        try refused(args(["--resume", out], calibration: otherFile), saying: "calibration file checksum")
        func changed(_ option: String, to value: String) -> [String] {
            var list = args(["--resume", out])
            list[list.firstIndex(of: option)! + 1] = value
            return list
        }
        try refused(changed("--calibration-samples", to: "9"), saying: "calibration_samples 10 vs 9")
        try refused(changed("--seq-len", to: "64"), saying: "seq_len 128 vs 64")
        try refused(changed("--calibration-seed", to: "6"), saying: "calibration_seed 5 vs 6")
    }

    func testTheSameInputsResumeAndAnOlderCheckpointResumesWithAWarning() throws {
        let again = try MopProcess.run(args(["--resume", out]), timeout: 120)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("warning"), again.stderr)

        // The checkpoint as an older mop wrote it: no "inputs".
        let old = directory + "/old"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        let first = directory + "/first"
        XCTAssertEqual(try MopProcess.run(args(["--out", first, "--max-iterations", "1"]), timeout: 120).status, 0)
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: first + "/checkpoint.json"))) as? [String: Any])
        XCTAssertNotNil(json.removeValue(forKey: "inputs"), "the checkpoint records its inputs")
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: old + "/checkpoint.json"))
        let resumed = try MopProcess.run(args(["--resume", old]), timeout: 120)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("mop: warning: \(old)/checkpoint.json does not record the model and calibration"), resumed.stderr)
    }
}
