import Foundation
import XCTest
@testable import Shared

/// `mop prune --finetune --eval`, the main job, end to end on a tiny model under two ranks: the side-by-side
/// evaluation in report.json must hold the numbers that `mop eval` gives each written model on its own.
final class PruneEvalTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-prune-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testChainedEvaluationEqualsEvaluatingEachWrittenModel() throws {
        try chainedJob([])
    }

    /// After a search in 2 pipeline stages, each rank goes on with its stage's part: pipelined recovery and
    /// evaluation give what `mop eval` of each written model gives, and the recovery reports its pipeline.
    func testChainedRecoveryAndEvaluationAfterAStagedSearch() throws {
        try chainedJob(["--stages", "2"])
    }

    func chainedJob(_ extra: [String]) throws {
        let model = try TinyByteModel.write(in: directory), rows = try TinyByteModel.alpaca(rows: 16, in: directory)
        let text = directory + "/text.txt"
        try Data(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 40).utf8)
            .write(to: URL(fileURLWithPath: text))
        let tasksDir = RealInputs.sharedData + "/tasks", out = directory + "/run"
        let evalOptions = ["--eval-text", text, "--eval-seq-len", "128", "--eval-tasks", "arc_easy,boolq",
                           "--tasks-dir", tasksDir, "--eval-limit", "6"]
        let run = try MopProcess.mpirun(ranks: 2, ["prune", model, "--target", "0.2", "--method", "width", "--out", out,
                                                   "--calibration", rows, "--calibration-samples", "8", "--finetune",
                                                   "--steps", "3", "--batch", "4", "--lr", "1e-2", "--held-out", "0.25",
                                                   "--eval", "--bench-runs", "3", "--bench-warmup", "1", "--json"]
                                        + evalOptions + extra, timeout: 300)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try XCTUnwrap(run.json, run.stdout)
        let evaluation = try XCTUnwrap(report["evaluation"] as? [String: Any])
        let models = try XCTUnwrap(evaluation["models"] as? [[String: Any]])
        XCTAssertEqual(models.compactMap { $0["name"] as? String }, ["dense", "pruned", "recovered"])
        XCTAssertEqual(models[0]["compression"] as? Double, 0)
        XCTAssertEqual(try XCTUnwrap(models[1]["compression"] as? Double), try XCTUnwrap(report["compression"] as? Double),
                       accuracy: 1e-12)
        XCTAssertEqual(models[2]["parameters"] as? Int, models[1]["parameters"] as? Int)
        XCTAssertNotNil((report["finetune"] as? [String: Any])?["held_out_loss_after"])
        let pipeline = (report["finetune"] as? [String: Any])?["pipeline"] as? [String: Any]
        XCTAssertEqual(pipeline?["stages"] as? Int, extra.isEmpty ? nil : 2)
        XCTAssertEqual(pipeline.map { ($0["bytes_between_stages"] as? Int ?? 0) > 0 }, extra.isEmpty ? nil : true)

        // Each model's numbers equal a separate `mop eval` of the file the job wrote (or read) for it.
        for (entry, path) in zip(models, [model, out, out + "/finetuned"]) {
            // One BLAS thread, as the job's ranks: the accuracies are counts of argmaxes, equal only without rounding ties.
            let alone = try MopProcess.run(["eval", path, "--ppl", text, "--seq-len", "128", "--tasks", "arc_easy,boolq",
                                            "--tasks-dir", tasksDir, "--limit", "6", "--json"],
                                           environment: ["OPENBLAS_NUM_THREADS": "1"])
            XCTAssertEqual(alone.status, 0, alone.stderr)
            let json = try XCTUnwrap(alone.json)
            let expected = try XCTUnwrap(json["perplexity"] as? Double)
            XCTAssertEqual(try XCTUnwrap(entry["perplexity"] as? Double), expected, accuracy: CrossRunTolerance.relative * expected, path)
            let tasks = try XCTUnwrap(entry["tasks"] as? [String: [String: Any]])
            let aloneTasks = try XCTUnwrap(json["tasks"] as? [String: [String: Any]])
            for task in ["arc_easy", "boolq"] {
                XCTAssertEqual(tasks[task]?["n"] as? Int, 6)
                XCTAssertEqual(tasks[task]?["acc"] as? Double, aloneTasks[task]?["acc"] as? Double, "\(path) \(task)")
                XCTAssertEqual(tasks[task]?["acc_norm"] as? Double, aloneTasks[task]?["acc_norm"] as? Double, "\(path) \(task)")
            }
        }
        // Latency of the dense and the pruned model; the recovered one has the pruned shape.
        for entry in models[..<2] {
            let latency = try XCTUnwrap(entry["latency"] as? [String: Any], "\(entry)")
            XCTAssertEqual(latency["runs"] as? Int, 3)
            XCTAssertGreaterThan(try XCTUnwrap(latency["decode_tokens_per_second"] as? Double), 0)
        }
        XCTAssertNil(models[2]["latency"])
        // The two models ran in turn; the pruned one's ratio is the median of its paired runs' ratios.
        let runs = try (0..<2).map { try XCTUnwrap((models[$0]["latency"] as? [String: Any])?["run_seconds"] as? [Double]) }
        XCTAssertEqual(runs.map(\.count), [2, 2])
        let vsFirst = try XCTUnwrap(models[1]["latency_vs_first"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(vsFirst["latency_seconds"] as? Double),
                       LatencyBenchmark.median(zip(runs[1], runs[0]).map { $0 / $1 }), accuracy: 1e-12)
        XCTAssertNil(models[0]["latency_vs_first"])

        let markdown = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        for expected in ["## Recovery", "## Dense, pruned and recovered", "| | dense | pruned | recovered |",
                         "| arc_easy acc / acc_norm |", "| decode tokens/s |", "| latency vs first | 1.000 | ", "![perplexity against compression](perplexity.svg)"] {
            XCTAssertTrue(markdown.contains(expected), expected + "\n" + markdown)
        }
        let plot = try String(contentsOfFile: out + "/perplexity.svg", encoding: .utf8)
        XCTAssertTrue(plot.contains("<svg") && plot.contains("calibration (path)") && plot.contains("recovered"), plot)
    }

    func testMissingEvaluationInputsFailBeforeTheSearch() throws {
        let model = try TinyByteModel.write(in: directory), rows = try TinyByteModel.alpaca(rows: 8, in: directory)
        let missingText = try MopProcess.run(["prune", model, "--target", "0.2", "--out", directory + "/a", "--calibration",
                                              rows, "--eval", "--eval-text", directory + "/nope.txt"])
        XCTAssertEqual(missingText.status, 1)
        XCTAssertTrue(missingText.stderr.contains(directory + "/nope.txt"), missingText.stderr)
        XCTAssertFalse(missingText.stderr.contains("prune: iteration"), "failed only after searching: \(missingText.stderr)")

        let tasks = directory + "/tasks"
        try FileManager.default.createDirectory(atPath: tasks, withIntermediateDirectories: true)
        try Data("{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n".utf8).write(to: URL(fileURLWithPath: tasks + "/piqa.jsonl"))
        let malformed = try MopProcess.run(["prune", model, "--target", "0.2", "--out", directory + "/b", "--calibration",
                                            rows, "--eval", "--eval-tasks", "piqa", "--tasks-dir", tasks])
        XCTAssertEqual(malformed.status, 1)
        XCTAssertTrue(malformed.stderr.contains(tasks + "/piqa.jsonl:1:"), malformed.stderr)

        let unknown = try MopProcess.run(["prune", model, "--target", "0.2", "--out", directory + "/c", "--eval",
                                          "--eval-tasks", "piqa,mmlu"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown task 'mmlu'"), unknown.stderr)
    }
}
