import Foundation
import XCTest
@testable import Shared

/// `mop prune --stages` under mpirun with a K-quant mixture: each stage's GGUF part and safetensors shard hold one
/// process's bytes, `--gguf-single` writes one process's file, and `mop eval` reads the split set as that model.
final class StagedPruneExportTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-staged-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testStagesWriteOneProcesssKQuantExport() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        let weights = try ModelLoader.load(path: model).weights
        // Without the importance matrix, whose sums the stages add in another order than one process.
        func args(_ out: String, _ extra: [String] = []) -> [String] {
            ["prune", model, "--target", "0.3", "--out", directory + "/" + out, "--calibration", calibration,
             "--calibration-samples", "10", "--export-type", "q4_k_m", "--quant-importance", "none", "--json"] + extra
        }
        let single = try MopProcess.run(args("one"), timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try PruneOutcome(single, directory: directory + "/one")
        for (stages, extra) in [(2, []), (3, ["--gguf-single"])] {
            let name = "\(stages) stages \(extra)", out = "\(stages)"
            let run = try MopProcess.mpirun(ranks: stages, args(out, ["--stages", "\(stages)"] + extra), timeout: 180)
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
            try PruneOutcome(run, directory: directory + "/" + out).assertSameSearch(as: reference, name)
            let parts = try PipelineLayout(stages: stages, ranks: stages, blocks: 6).parts(weights.config, pruned: reference.structure)
            try StagedExportCheck.assertSame(directory + "/" + out, as: directory + "/one",
                                             parts: parts.filter { !$0.blocks.isEmpty || $0.embeds || $0.head }.count,
                                             single: !extra.isEmpty, name)
        }

        // The split set read by `mop eval` as one model: the single file's perplexity.
        let text = directory + "/text.txt"
        try Data(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 20).utf8).write(to: URL(fileURLWithPath: text))
        func perplexity(_ path: String) throws -> Double {
            let run = try MopProcess.run(["eval", path, "--ppl", text, "--seq-len", "64", "--json"], timeout: 60,
                                         environment: ["OPENBLAS_NUM_THREADS": "1"])
            XCTAssertEqual(run.status, 0, run.stderr)
            return try XCTUnwrap(run.json?["perplexity"] as? Double, run.stdout)
        }
        let split = try XCTUnwrap(GGUFSplitKeys.file(named: "model.gguf", in: directory + "/2"))
        XCTAssertTrue(split.hasSuffix("model-00001-of-00002.gguf"), split)
        XCTAssertEqual(try perplexity(split), try perplexity(directory + "/one/model.gguf"))
        XCTAssertEqual(try perplexity(directory + "/2/hf"), try perplexity(directory + "/one/hf"))
    }
}
