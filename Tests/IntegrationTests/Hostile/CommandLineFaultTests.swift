import Foundation
import XCTest
@testable import Shared

/// Issue 30, the command line: one check of `--threads` for every command (case 7), text options that are not UTF-8
/// refused as a file's would be (case 8), and `generate` saying why it stopped (case 9).
final class CommandLineFaultTests: XCTestCase {
    var directory = ""
    var model = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-cmdline-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = try TinyByteModel.write(in: directory)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    // Case 7: every command taking --threads refuses 0 and negatives the same way, before anything runs.
    func testThreadsBelowOneAreRefusedByEveryCommand() throws {
        let data = try TinyByteModel.alpaca(rows: 8, in: directory)
        let commands: [[String]] = [
            ["prune", model, "--target", "0.2", "--out", directory + "/p", "--calibration", data],
            ["eval", model, "--ppl", data],
            ["generate", model, "--prompt", "hi"],
            ["finetune", model, "--data", data, "--out", directory + "/f"],
            ["bench", model],
            ["bench-forward", model],
            ["bench-train", model],
        ]
        for command in commands {
            for threads in ["0", "-1", "-5"] {
                let run = try MopProcess.run(command + ["--threads", threads], timeout: 60)
                XCTAssertEqual(run.status, 64, "\(command) --threads \(threads): \(run.stderr)")
                XCTAssertTrue(run.stderr.hasPrefix("Error: --threads must be at least 1, not \(threads)"), run.stderr)
                XCTAssertEqual(run.stdout, "")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/p"))
    }

    /// `mop ARGS` with `raw` (printf's escapes, e.g. `a\377b`) as the last argument's bytes: Foundation's Process
    /// takes only valid UTF-8 strings, so a shell puts the bytes in place (after a `%s` of nothing, so that a raw
    /// `--prompt=...` is not read as printf's option).
    func runWithRawLastArgument(_ args: [String], raw: String) throws -> MopProcess.Output {
        let script = "exec \"$0\" \"$@\" \"$(printf '%s\(raw)' '')\""
        return try MopProcess.launch("/bin/sh", ["-c", script, MopProcess.binary] + args, timeout: 60, environment: [:])
    }

    // Case 8: invalid UTF-8 in --string and --prompt (either spelling) is refused with the file check's wording.
    func testInvalidUTF8InTextOptionsIsRefused() throws {
        let cases: [([String], String, String)] = [
            (["tokenize", model, "--string"], "a\\377b", "mop: error: --string: not valid UTF-8 (byte 0xFF at offset 1)"),
            (["generate", model, "--prompt"], "ok \\303(", "mop: error: --prompt: not valid UTF-8 (byte 0xC3 at offset 3)"),
            (["generate", model, "--max-new-tokens", "2"], "--prompt=\\355\\240\\200", "mop: error: --prompt: not valid UTF-8 (byte 0xED at offset 0)"),
        ]
        for (args, raw, message) in cases {
            let run = try runWithRawLastArgument(args, raw: raw)
            XCTAssertEqual(run.status, 1, "\(args) \(raw): \(run.stderr)")
            XCTAssertEqual(run.stderr, message + "\n")
            XCTAssertEqual(run.stdout, "")
        }
        // The same bytes in a file say the same thing about the file.
        let file = directory + "/bad.txt"
        try Data([0x61, 0xFF, 0x62]).write(to: URL(fileURLWithPath: file))
        try OneLineError.assert(["tokenize", model, "--text", file], naming: file, saying: "not valid UTF-8 (byte 0xFF at offset 1)")
        // Valid text, multi-byte included, still runs.
        let fine = try runWithRawLastArgument(["tokenize", model, "--string"], raw: "caf\\303\\251")
        XCTAssertEqual(fine.status, 0, fine.stderr)
        XCTAssertEqual(fine.stdout, "99 97 102 195 169\n")
    }

    // Case 9: generation says why it stopped, on stderr and in the JSON (a tokenizer without EOS, so it runs on).
    func testGenerateSaysWhyItStopped() throws {
        let model = try PruneFixtures.tinyModel(in: directory, name: "no-eos.gguf", layers: 2)
        let long = try MopProcess.run(["generate", model, "--prompt", "hi", "--max-new-tokens", "10000000"], timeout: 120)
        XCTAssertEqual(long.status, 0, long.stderr)
        XCTAssertTrue(long.stderr.hasSuffix("generate: stopped at the model's 256 positions\n"), long.stderr)
        let json = try MopProcess.run(["generate", model, "--prompt", "hi", "--max-new-tokens", "10000000", "--json"], timeout: 120)
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertEqual(json.json?["stopped"] as? String, "context", json.stdout)
        // Two prompt tokens: 254 more are fed back, and the last token needs no position.
        XCTAssertEqual((json.json?["tokens"] as? [Int])?.count, 255)
        let short = try MopProcess.run(["generate", model, "--prompt", "hi", "--max-new-tokens", "3"])
        XCTAssertTrue(short.stderr.hasSuffix("generate: stopped at --max-new-tokens 3\n"), short.stderr)
        let shortJSON = try MopProcess.run(["generate", model, "--prompt", "hi", "--max-new-tokens", "3", "--json"])
        XCTAssertEqual(shortJSON.json?["stopped"] as? String, "max-new-tokens", shortJSON.stdout)
    }
}
