import Foundation
import XCTest
@testable import Shared

/// Issue 13, hostile command lines and inputs other than model files: options past the model's sizes, FIFOs and
/// devices, files saved by other tools (CRLF, BOM), malformed checkpoints, leftovers of killed runs.
final class HostileCommandTests: XCTestCase {
    var directory = ""
    var model = ""
    let quickly: TimeInterval = 30

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-hostile-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = try PruneFixtures.tinyModel(in: directory, layers: 2)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func write(_ text: String, _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    // Cases 5 and 6: options larger than the model refused, not trapped on.
    func testLoRARankAndSequenceLengthBeyondTheModel() throws {
        let data = try PruneFixtures.alpaca(in: directory, rows: 8)
        try OneLineError.assert(["finetune", model, "--lora-rank", "100000", "--data", data, "--out", directory + "/ft"], naming: model,
                                saying: "LoRA rank 100000 exceeds 16, the smaller dimension of the smallest adapted matrix", within: quickly)
        try OneLineError.assert(["bench-forward", model, "--seq-len", "100000"], naming: model,
                                saying: "takes 256 positions, fewer than --seq-len 100000", within: quickly)
    }

    // Case 7: a FIFO with no writer, devices and directories are refused before they are opened.
    func testFIFOsDevicesAndDirectoriesAreRefused() throws {
        let fifo = directory + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        try OneLineError.assert(["inspect", fifo], naming: fifo, saying: "is a FIFO (named pipe), not a regular file or a directory", within: quickly)
        try OneLineError.assert(["eval", fifo, "--ppl", fifo, "--seq-len", "16"], naming: fifo, saying: "is a FIFO", within: quickly)
        // Case 12: --ppl given a directory or a device, --out below a regular file.
        try OneLineError.assert(["eval", model, "--ppl", fifo, "--seq-len", "16"], naming: fifo, saying: "is a FIFO (named pipe), not a regular file", within: quickly)
        try OneLineError.assert(["eval", model, "--ppl", directory, "--seq-len", "16"], naming: directory, saying: "is a directory, not a regular file", within: quickly)
        for device in ["/dev/zero", "/dev/null"] {
            try OneLineError.assert(["eval", model, "--ppl", device, "--seq-len", "16"], naming: device, saying: "is a character device, not a regular file", within: quickly)
        }
        let file = try write("x", "plain")
        try OneLineError.assert(["prune", model, "--target", "0.2", "--out", file + "/out", "--calibration", file], naming: file + "/out",
                                saying: "cannot create the directory: \(file) is a regular file, not a directory", within: quickly)
    }

    // Case 8: a 20,000-word query is cut at the left to the model's length, said on stderr, and scored quickly.
    func testOverlongTaskRowIsTruncatedAtTheLeft() throws {
        let tasks = directory + "/tasks"
        try FileManager.default.createDirectory(atPath: tasks, withIntermediateDirectories: true)
        let long = String(repeating: "word ", count: 20_000)
        _ = try write(["{\"query\": \"Q: short\", \"choices\": [\"a\", \"b\"], \"gold\": 0}",
                       "{\"query\": \"\(long)\", \"choices\": [\"a\", \"b\"], \"gold\": 1}",
                       "{\"query\": \"Q: short\", \"choices\": [\"a\", \"\(long)\"], \"gold\": 0}"].joined(separator: "\n"), "tasks/piqa.jsonl")
        let start = Date()
        let run = try MopProcess.run(["eval", model, "--tasks", "piqa", "--tasks-dir", tasks, "--limit", "3"], timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("piqa.jsonl:2: 100009 tokens, scored on the last 257"), run.stderr)
        XCTAssertTrue(run.stderr.contains("piqa.jsonl:3: 100016 tokens, scored on the last 257"), run.stderr)
        XCTAssertTrue(run.stdout.contains("(n = 3)"), run.stdout)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }

    // Case 10: a negative number is read as the option's value, and its own check says what is wrong.
    func testNegativeNumbersAreValues() throws {
        let data = try PruneFixtures.alpaca(in: directory, rows: 8)
        try OneLineError.assert(["prune", model, "--target", "-1", "--out", directory + "/p", "--calibration", data], naming: "target",
                                saying: "target -1.0 is outside (0, 1)", within: quickly)
        let run = try MopProcess.run(["eval", model, "--ppl", data, "--seq-len", "-5"], timeout: 60)
        XCTAssertEqual(run.status, 64, run.stderr)
        XCTAssertTrue(run.stderr.hasPrefix("Error: --seq-len must be at least 2"), run.stderr)
    }

    // Case 13: a malformed checkpoint is refused before the model is scored, naming the key.
    func testMalformedCheckpointIsCheckedFirst() throws {
        let out = directory + "/out", data = try PruneFixtures.alpaca(in: directory, rows: 12)
        let args = ["prune", model, "--target", "0.3", "--calibration", data, "--calibration-samples", "10"]
        let first = try MopProcess.run(args + ["--out", out, "--json"], timeout: 120)
        XCTAssertEqual(first.status, 0, first.stderr)
        let checkpoint = out + "/checkpoint.json"
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: checkpoint))) as? [String: Any])
        var settings = try XCTUnwrap(object["settings"] as? [String: Any])
        settings["seed"] = -1
        object["settings"] = settings
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: checkpoint))
        let message = try OneLineError.assert(args + ["--resume", out], naming: checkpoint, saying: "key settings.seed is invalid", within: quickly)
        XCTAssertFalse(message.contains("not valid JSON"), message)
        _ = try write("[]", "out/checkpoint.json")
        try OneLineError.assert(args + ["--resume", out], naming: checkpoint, saying: "the top level must be a JSON object", within: quickly)
    }

    // Case 18: CRLF line ends and a byte order mark, as other tools save them, everywhere text is read.
    func testCRLFAndByteOrderMarkAreAccepted() throws {
        let rows = (0..<12).map { "{\"instruction\": \"Say something about \($0).\", \"input\": \"\", \"output\": \"ok\"}" }
        let alpaca = try write("\u{FEFF}" + rows.joined(separator: "\r\n") + "\r\n", "crlf.jsonl")
        let prune = try MopProcess.run(["prune", model, "--target", "0.3", "--out", directory + "/p", "--calibration", alpaca,
                                        "--calibration-samples", "10", "--json"], timeout: 120)
        XCTAssertEqual(prune.status, 0, prune.stderr)
        XCTAssertEqual((prune.json?["calibration"] as? [String: Any])?["sequences"] as? Int, 10, prune.stdout)

        let tasks = directory + "/tasks"
        try FileManager.default.createDirectory(atPath: tasks, withIntermediateDirectories: true)
        _ = try write("\u{FEFF}{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\r\n{\"query\": \"R\", \"choices\": [\"c\", \"d\"], \"gold\": 1}\r\n",
                      "tasks/piqa.jsonl")
        let eval = try MopProcess.run(["eval", model, "--tasks", "piqa", "--tasks-dir", tasks], timeout: 60)
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("(n = 2)"), eval.stdout)
        XCTAssertEqual(try TaskData.parse("{\"query\": \"Q\", \"choices\": [\"a\"], \"gold\": 0}\r\n", task: .piqa, file: "t").first?.requests[0].context,
                       "QAnswer:")
    }

    // Case 19: partial files of a killed run are removed by --resume; a live process's are kept.
    func testResumeRemovesStaleTemporaries() throws {
        let out = directory + "/out", data = try PruneFixtures.alpaca(in: directory, rows: 12)
        let args = ["prune", model, "--target", "0.3", "--calibration", data, "--calibration-samples", "10", "--format", "both"]
        XCTAssertEqual(try MopProcess.run(args + ["--out", out], timeout: 120).status, 0)
        var dead: Int32 = 999_999
        while kill(dead, 0) == 0 || errno != ESRCH { dead -= 1 }
        let stale = [out + "/structure.json.partial-\(dead)", out + "/hf/model.safetensors.partial-\(dead)"]
        let live = out + "/report.json.partial-\(getpid())"
        for path in stale + [live] { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8))) }
        let resumed = try MopProcess.run(args + ["--resume", out], timeout: 120)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        for path in stale {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), path)
            XCTAssertTrue(resumed.stderr.contains("removed \(path)"), resumed.stderr)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: live))
    }
}
