import Foundation
import XCTest
@testable import Shared

/// `mop finetune` end to end on a tiny random model with a byte-level tokenizer: the files, a falling held-out loss,
/// the same per-step losses under mpirun, and `mop prune --finetune` in one job.
final class FinetuneTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-finetune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func tinyModel() throws -> String { try TinyByteModel.write(in: directory) }
    func data(rows: Int) throws -> String { try TinyByteModel.alpaca(rows: rows, in: directory) }

    func testFinetuneWritesAdapterModelAndReportAndLowersTheHeldOutLoss() throws {
        let model = try tinyModel(), out = directory + "/out"
        let run = try MopProcess.run(["finetune", model, "--data", try data(rows: 20), "--out", out, "--steps", "16",
                                      "--batch", "2", "--micro-batch", "2", "--lr", "5e-2", "--held-out", "0.2",
                                      "--lora-rank", "4", "--json"], timeout: 300)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try XCTUnwrap(run.json, run.stdout)
        XCTAssertEqual(report["steps"] as? Int, 16)
        let before = try XCTUnwrap(report["held_out_loss_before"] as? Double)
        let after = try XCTUnwrap(report["held_out_loss_after"] as? Double)
        XCTAssertLessThan(after, 0.85 * before, "held-out loss went from \(before) to \(after)")
        XCTAssertGreaterThan(try XCTUnwrap(report["tokens_per_second"] as? Double), 0)
        let losses = try XCTUnwrap(report["losses"] as? [Double])
        XCTAssertEqual(losses.count, 16)
        XCTAssertEqual(report["final_loss"] as? Double, losses.last)
        XCTAssertTrue(run.stderr.contains("finetune: step 16/16, loss"), run.stderr)
        for file in ["adapter/adapter_model.safetensors", "adapter/adapter_config.json", "finetune.json", "model.gguf",
                     "hf/config.json", "hf/model.safetensors", "hf/tokenizer.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        // The merged model is the base with the saved adapter folded in, in both formats.
        let base = try ModelLoader.load(path: model).weights
        let adapters = try PEFTAdapter.load(from: out + "/adapter", model: base.config)
        XCTAssertEqual(adapters.config.rank, 4)
        let merged = adapters.merged(into: base)
        XCTAssertEqual(try ModelLoader.load(path: out + "/model.gguf").weights, merged)
        XCTAssertEqual(try ModelLoader.load(path: out + "/hf").weights, merged)
        XCTAssertNotEqual(merged, base)
        let saved = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: out + "/finetune.json"))) as? [String: Any]
        XCTAssertEqual(saved?["losses"] as? [Double], losses)
    }

    func testTwoRanksGiveTheSameLossesAsOne() throws {
        let model = try tinyModel(), rows = try data(rows: 16)
        func args(_ out: String, microBatch: Int) -> [String] {
            ["finetune", model, "--data", rows, "--out", directory + "/" + out, "--steps", "4", "--batch", "4",
             "--micro-batch", "\(microBatch)", "--lr", "1e-2", "--held-out", "0.25", "--lora-dropout", "0", "--json"]
        }
        let single = try MopProcess.run(args("one", microBatch: 4), timeout: 200, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let distributed = try MopProcess.mpirun(ranks: 2, args("two", microBatch: 1), timeout: 300)
        XCTAssertEqual(distributed.status, 0, distributed.stderr)
        let one = try XCTUnwrap(single.json?["losses"] as? [Double], single.stdout)
        let two = try XCTUnwrap(distributed.json?["losses"] as? [Double], distributed.stdout)
        XCTAssertEqual(one.count, 4)
        XCTAssertEqual(two.count, 4)
        for (a, b) in zip(one, two) { XCTAssertEqual(b, a, accuracy: 1e-5 * a) }
        let afterOne = try XCTUnwrap(single.json?["held_out_loss_after"] as? Double)
        let afterTwo = try XCTUnwrap(distributed.json?["held_out_loss_after"] as? Double)
        XCTAssertEqual(afterTwo, afterOne, accuracy: 1e-5 * afterOne)
    }

    /// Under two ranks the second rank receives the chosen structure and joins the training; the losses equal a
    /// separate one-rank `mop finetune` of the pruned output with the same settings.
    func testPruneThenFinetuneInOneJobEqualsFinetuningThePrunedOutput() throws {
        let model = try tinyModel(), rows = try data(rows: 16), out = directory + "/pruned"
        let common = ["--steps", "3", "--batch", "4", "--lr", "1e-2", "--held-out", "0.25", "--lora-dropout", "0", "--json"]
        let chained = try MopProcess.mpirun(ranks: 2, ["prune", model, "--target", "0.2", "--method", "width", "--out", out,
                                                       "--calibration", rows, "--calibration-samples", "8", "--finetune",
                                                       "--micro-batch", "1"] + common, timeout: 300)
        XCTAssertEqual(chained.status, 0, chained.stderr)
        let report = try XCTUnwrap(chained.json, chained.stdout)
        XCTAssertEqual(try XCTUnwrap(report["compression"] as? Double), 0.2, accuracy: 0.005)
        let finetune = try XCTUnwrap(report["finetune"] as? [String: Any])
        XCTAssertEqual(finetune["ranks"] as? Int, 2)
        XCTAssertEqual(finetune["data"] as? String, rows, "the fine-tuning data defaults to the calibration file")
        for file in ["adapter/adapter_model.safetensors", "adapter/adapter_config.json", "finetune.json", "model.gguf", "hf/config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/finetuned/" + file), file)
        }
        let pruned = try ModelLoader.load(path: out).weights
        XCTAssertEqual(try ModelLoader.load(path: out + "/finetuned").weights.config, pruned.config)

        let separate = try MopProcess.run(["finetune", out, "--data", rows, "--out", directory + "/separate",
                                           "--micro-batch", "4"] + common, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(separate.status, 0, separate.stderr)
        let one = try XCTUnwrap(separate.json?["losses"] as? [Double], separate.stdout)
        let two = try XCTUnwrap(finetune["losses"] as? [Double])
        XCTAssertEqual(one.count, 3)
        XCTAssertEqual(two.count, 3)
        for (a, b) in zip(one, two) { XCTAssertEqual(b, a, accuracy: 1e-5 * a) }
    }

    func testBadFinetuneInputs() throws {
        let model = try tinyModel()
        let malformed = directory + "/bad.jsonl"
        try Data("{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"a\"}\n".utf8).write(to: URL(fileURLWithPath: malformed))
        let bad = try MopProcess.run(["finetune", model, "--data", malformed, "--out", directory + "/x", "--steps", "1"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains(malformed) && bad.stderr.contains("line 2: missing field \"output\""), bad.stderr)

        let occupied = directory + "/occupied"
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: occupied + "/notes.txt"))
        let taken = try MopProcess.run(["finetune", model, "--data", try data(rows: 8), "--out", occupied, "--steps", "1"])
        XCTAssertEqual(taken.status, 1)
        XCTAssertTrue(taken.stderr.contains("already holds"), taken.stderr)

        let both = try MopProcess.run(["finetune", model, "--data", try data(rows: 8), "--out", directory + "/y",
                                       "--steps", "1", "--epochs", "1"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--steps or --epochs"), both.stderr)

        let stray = try MopProcess.run(["prune", model, "--target", "0.2", "--out", directory + "/z", "--data", malformed])
        XCTAssertNotEqual(stray.status, 0)
        XCTAssertTrue(stray.stderr.contains("give it with --finetune"), stray.stderr)
        let badRank = try MopProcess.run(["prune", model, "--target", "0.2", "--out", directory + "/w", "--finetune",
                                         "--lora-rank", "0", "--calibration", try data(rows: 8)])
        XCTAssertEqual(badRank.status, 1)
        XCTAssertTrue(badRank.stderr.contains("LoRA rank 0 must be at least 1"), badRank.stderr)
    }
}
