import Foundation
import XCTest

/// `mop eval --tasks` and `mop generate` end to end on the real SmolLM2-135M-Instruct (small limits: debug builds).
final class ZeroShotCommandTests: XCTestCase {
    var tasksDir: String { RealInputs.sharedData + "/tasks" }
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "mop-zeroshot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func task(_ json: [String: Any]?, _ name: String) throws -> [String: Any] {
        try XCTUnwrap((json?["tasks"] as? [String: Any])?[name] as? [String: Any], "\(String(describing: json))")
    }

    func testTasksAndPerplexityInOneJSONObject() throws {
        let text = folder + "/text.txt"
        try "The cat sat on the mat. The dog sat on the log. Birds fly over the sea.".write(toFile: text, atomically: true, encoding: .utf8)
        let output = try MopProcess.run(["eval", try RealInputs.smolLM2(), "--tasks", "arc_easy,piqa", "--tasks-dir", tasksDir,
                                         "--limit", "2", "--ppl", text, "--seq-len", "8", "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = output.json
        XCTAssertNotNil(json?["perplexity"] as? Double)
        XCTAssertEqual(json?["seq_len"] as? Int, 8)
        var accs: [Double] = [], norms: [Double] = []
        for name in ["arc_easy", "piqa"] {
            let result = try task(json, name)
            XCTAssertEqual(result["n"] as? Int, 2)
            let acc = try XCTUnwrap(result["acc"] as? Double), norm = try XCTUnwrap(result["acc_norm"] as? Double)
            XCTAssertTrue([0, 0.5, 1].contains(acc) && [0, 0.5, 1].contains(norm), "\(result)")
            // sqrt(p (1 - p) / (n - 1)) with n = 2.
            XCTAssertEqual(try XCTUnwrap(result["acc_stderr"] as? Double), (acc * (1 - acc)).squareRoot(), accuracy: 1e-12)
            accs.append(acc)
            norms.append(norm)
        }
        let average = try XCTUnwrap(json?["average"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(average["acc"] as? Double), (accs[0] + accs[1]) / 2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(average["acc_norm"] as? Double), (norms[0] + norms[1]) / 2, accuracy: 1e-12)
        XCTAssertTrue(output.stderr.contains("zero-shot: 4/4 examples"), output.stderr)
    }

    func testTwoRanksCountTheSameAsOne() throws {
        let args = ["eval", try RealInputs.smolLM2(), "--tasks", "winogrande,openbookqa", "--tasks-dir", tasksDir, "--limit", "3", "--json"]
        let single = try MopProcess.run(args, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let distributed = try MopProcess.mpirun(ranks: 2, args)
        XCTAssertEqual(distributed.status, 0, distributed.stderr)
        XCTAssertEqual(distributed.json?["ranks"] as? Int, 2)
        for name in ["winogrande", "openbookqa"] {
            let a = try task(single.json, name), b = try task(distributed.json, name)
            XCTAssertEqual(b["n"] as? Int, 3)
            XCTAssertEqual(a["acc"] as? Double, b["acc"] as? Double, name)
            XCTAssertEqual(a["acc_norm"] as? Double, b["acc_norm"] as? Double, name)
        }
    }

    func testBadTaskInputsEndWithAClearError() throws {
        let model = try RealInputs.smolLM2()
        try (#"{"query": "Question: a\n", "choices": ["x", "y"], "gold": 0}"# + "\n" + #"{"query": "Question: b\n", "choices": ["x", "y"], "gold": 2}"# + "\n")
            .write(toFile: folder + "/piqa.jsonl", atomically: true, encoding: .utf8)
        let malformed = try MopProcess.run(["eval", model, "--tasks", "piqa", "--tasks-dir", folder])
        XCTAssertEqual(malformed.status, 1)
        XCTAssertTrue(malformed.stderr.contains(folder + "/piqa.jsonl:2: key gold = 2 is out of range"), malformed.stderr)
        let missing = try MopProcess.run(["eval", model, "--tasks", "boolq", "--tasks-dir", folder])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains(folder + "/boolq.jsonl: no such file"), missing.stderr)
        let unknown = try MopProcess.run(["eval", model, "--tasks", "piqa,mmlu"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown task 'mmlu'"), unknown.stderr)
        let neither = try MopProcess.run(["eval", model])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.stderr.contains("--ppl FILE, --tasks"), neither.stderr)
    }

    func testGenerateAnswersWithTheChatTemplate() throws {
        let output = try MopProcess.run(["generate", try RealInputs.smolLM2(), "--prompt", "What is the capital of France?",
                                         "--chat", "--max-new-tokens", "24", "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json, output.stdout)
        let text = try XCTUnwrap(json["text"] as? String)
        XCTAssertTrue(text.contains("Paris"), text)
        let tokens = try XCTUnwrap(json["tokens"] as? [Int])
        XCTAssertEqual(tokens.last, 2, "greedy SmolLM2 answers briefly and stops at <|im_end|> (EOS)")
        XCTAssertTrue((json["prompt"] as? String)?.hasPrefix("<|im_start|>system\nYou are a helpful AI assistant named SmolLM") ?? false)
    }
}
