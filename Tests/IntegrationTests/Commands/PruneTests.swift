import Foundation
import XCTest
@testable import Shared

/// `mop prune` end to end on a tiny random model with a byte-level tokenizer: outputs, reloading, and the same
/// search under mpirun.
final class PruneTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-prune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func tinyModel() throws -> String { try PruneFixtures.tinyModel(in: directory) }

    func alpaca(rows: Int) throws -> String { try PruneFixtures.alpaca(in: directory, rows: rows) }

    func pruneArgs(_ model: String, out: String, _ extra: [String] = []) throws -> [String] {
        ["prune", model, "--target", "0.3", "--out", out, "--calibration", try alpaca(rows: 12),
         "--calibration-samples", "10", "--json"] + extra
    }

    func testPruneWritesLoadableOutputsOnTarget() throws {
        let model = try tinyModel(), out = directory + "/out"
        let run = try MopProcess.run(try pruneArgs(model, out: out), timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try XCTUnwrap(run.json, run.stdout)
        let compression = try XCTUnwrap(report["compression"] as? Double)
        XCTAssertEqual(compression, 0.3, accuracy: 0.005)
        let calibration = try XCTUnwrap(report["calibration"] as? [String: Any])
        XCTAssertEqual(calibration["sequences"] as? Int, 10)
        XCTAssertGreaterThan(try XCTUnwrap(calibration["dense_loss"] as? Double), 0)
        for file in ["structure.json", "report.json", "report.md", "model.gguf", "hf/config.json", "hf/model.safetensors",
                     "hf/tokenizer.json", "checkpoint.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        // structure.json applied to the original rebuilds the saved model exactly, in both formats.
        let structure = try PruningStructure.load(path: out + "/structure.json")
        let rebuilt = try structure.apply(to: try ModelLoader.load(path: model).weights)
        XCTAssertEqual(try ModelLoader.load(path: out + "/model.gguf").weights, rebuilt)
        XCTAssertEqual(try ModelLoader.load(path: out + "/hf").weights, rebuilt)
        XCTAssertEqual(structure.path, report["path"] as? String)

        // inspect and eval take the output directory itself.
        let inspect = try MopProcess.run(["inspect", out, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertEqual(inspect.json?["parameters"] as? Int, report["parameters"] as? Int)
        let text = directory + "/text.txt"
        try Data(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 20).utf8).write(to: URL(fileURLWithPath: text))
        let a = try MopProcess.run(["eval", out + "/model.gguf", "--ppl", text, "--seq-len", "128", "--json"])
        let b = try MopProcess.run(["eval", out, "--ppl", text, "--seq-len", "128", "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.json?["perplexity"] as? Double, b.json?["perplexity"] as? Double)
    }

    /// `--resume DIR` picks the run up from its checkpoint (the search itself is resumed mid-way in CoordinatorTests;
    /// here the command line: a directory holding only a checkpoint finishes into the same model).
    func testResumeFromACheckpointFinishesTheSameRun() throws {
        let model = try tinyModel(), first = directory + "/first", resumed = directory + "/resumed"
        let run = try MopProcess.run(try pruneArgs(model, out: first), timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        try FileManager.default.createDirectory(atPath: resumed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: first + "/checkpoint.json", toPath: resumed + "/checkpoint.json")
        var args = try pruneArgs(model, out: resumed)
        args[args.firstIndex(of: "--out")!] = "--resume"
        let again = try MopProcess.run(args, timeout: 120)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try PruningStructure.load(path: resumed + "/structure.json"),
                       try PruningStructure.load(path: first + "/structure.json"))
        XCTAssertEqual(try ModelLoader.load(path: resumed).weights, try ModelLoader.load(path: first).weights)

        // A checkpoint made with other settings is refused, naming the file.
        args[args.firstIndex(of: "0.3")!] = "0.25"
        let other = try MopProcess.run(args, timeout: 60)
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("checkpoint.json"), other.stderr)
    }

    func testTwoRanksChooseTheSamePathAndStructure() throws {
        let model = try tinyModel()
        let single = try MopProcess.run(try pruneArgs(model, out: directory + "/one"), timeout: 120,
                                        environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let distributed = try MopProcess.mpirun(ranks: 2, try pruneArgs(model, out: directory + "/two"), timeout: 180)
        XCTAssertEqual(distributed.status, 0, distributed.stderr)
        try PruneOutcome(distributed, directory: directory + "/two")
            .assertSameSearch(as: try PruneOutcome(single, directory: directory + "/one"), "2 ranks")
    }

    /// A given path that ends short of the target is followed, then width steps; the run says so on stderr.
    func testAShortGivenPathGoesOnWithWidthStepsAndSaysSo() throws {
        let model = try tinyModel(), out = directory + "/path"
        let run = try MopProcess.run(try pruneArgs(model, out: out, ["--selection", "path", "--path", "L"]), timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        let path = try XCTUnwrap(run.json?["path"] as? String, run.stdout)
        XCTAssertTrue(path.hasPrefix("LG"), path)
        XCTAssertTrue(run.stderr.contains("prune: --path L ended after 1 step short of the target; the search went on with "
                                          + "width steps: \(path)"), run.stderr)
    }

    func testBadPruneInputs() throws {
        let model = try tinyModel()
        let badTarget = try MopProcess.run(["prune", model, "--target", "1.5", "--out", directory + "/x",
                                            "--calibration", try alpaca(rows: 4)])
        XCTAssertEqual(badTarget.status, 1)
        XCTAssertTrue(badTarget.stderr.contains("outside (0, 1)"), badTarget.stderr)

        let missing = try MopProcess.run(["prune", model, "--target", "0.2", "--out", directory + "/y",
                                          "--calibration", directory + "/absent.jsonl"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains(directory + "/absent.jsonl"), missing.stderr)

        let malformed = directory + "/bad.jsonl"
        try Data("{\"instruction\": \"a\"}\n{not json\n".utf8).write(to: URL(fileURLWithPath: malformed))
        let bad = try MopProcess.run(["prune", model, "--target", "0.2", "--out", directory + "/z", "--calibration", malformed])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("line 2"), bad.stderr)

        let occupied = directory + "/occupied"
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: occupied + "/notes.txt"))
        let taken = try MopProcess.run(["prune", model, "--target", "0.2", "--out", occupied, "--calibration", try alpaca(rows: 4)])
        XCTAssertEqual(taken.status, 1)
        XCTAssertTrue(taken.stderr.contains("already holds"), taken.stderr)

        let tooMany = try MopProcess.mpirun(ranks: 3, ["prune", model, "--target", "0.2", "--out", directory + "/w",
                                                       "--calibration", try alpaca(rows: 2), "--calibration-samples", "2"])
        XCTAssertNotEqual(tooMany.status, 0)
        XCTAssertTrue(tooMany.stderr.contains("3 ranks but only 2 calibration sequences"), tooMany.stderr)
    }

    /// `mop apply` rebuilds a pruned model from the original and its structure.json, and cuts a hand-made
    /// non-uniform structure into a `deci` GGUF whose per-layer shapes are the structure's.
    func testApplyRebuildsPrunedAndNonUniformModels() throws {
        let model = try tinyModel(), out = directory + "/out"
        let run = try MopProcess.run(try pruneArgs(model, out: out), timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        let applied = try MopProcess.run(["apply", model, "--structure", out + "/structure.json", "--out", directory + "/again"])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertEqual(try ModelLoader.load(path: directory + "/again/model.gguf").weights,
                       try ModelLoader.load(path: out + "/model.gguf").weights)
        XCTAssertEqual(try ModelLoader.load(path: directory + "/again/hf").weights,
                       try ModelLoader.load(path: out + "/hf").weights)

        // 4 query heads in 2 KV groups: head h is in group h / 2. Block 3 removed, every block its own shape.
        let uneven = PruningStructure(originalLayers: 6, path: "", layers: [
            KeptLayer(index: 0, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: Array(0..<64)),
            KeptLayer(index: 1, heads: [0, 2], kvHeads: [0, 1], neurons: Array(stride(from: 0, to: 64, by: 2))),
            KeptLayer(index: 2, heads: [2, 3], kvHeads: [1], neurons: [5, 9, 40]),
            KeptLayer(index: 4, heads: [1], kvHeads: [0], neurons: Array(10..<50)),
            KeptLayer(index: 5, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: [63]),
        ])
        let structureFile = directory + "/uneven.json"
        try uneven.write(to: structureFile)
        let cut = try MopProcess.run(["apply", model, "--structure", structureFile, "--out", directory + "/uneven"])
        XCTAssertEqual(cut.status, 0, cut.stderr)
        let expected = try uneven.apply(to: try ModelLoader.load(path: model).weights)
        XCTAssertEqual(try ModelLoader.load(path: directory + "/uneven/model.gguf").weights, expected)
        XCTAssertEqual(try ModelLoader.load(path: directory + "/uneven/hf").weights, expected)
        let inspect = try MopProcess.run(["inspect", directory + "/uneven/model.gguf", "--json"])
        XCTAssertEqual(inspect.json?["architecture"] as? String, "deci", inspect.stdout)
        XCTAssertEqual(inspect.json?["heads"] as? [Int], [4, 2, 2, 1, 4])
        XCTAssertEqual(inspect.json?["kv_heads"] as? [Int], [2, 2, 1, 1, 2])
        XCTAssertEqual(inspect.json?["intermediate"] as? [Int], [64, 32, 3, 40, 1])

        // A structure that does not fit the model names the structure file; an occupied directory is refused.
        let wrong = PruningStructure(originalLayers: 6, path: "", layers: [
            KeptLayer(index: 0, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: [64])])
        try wrong.write(to: directory + "/wrong.json")
        let refused = try MopProcess.run(["apply", model, "--structure", directory + "/wrong.json", "--out", directory + "/w"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(directory + "/wrong.json") && refused.stderr.contains("neurons"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/w/model.gguf"))
        let occupied = try MopProcess.run(["apply", model, "--structure", structureFile, "--out", directory + "/uneven"])
        XCTAssertEqual(occupied.status, 1)
        XCTAssertTrue(occupied.stderr.contains("already holds"), occupied.stderr)
    }
}
