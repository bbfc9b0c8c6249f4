import Foundation
import XCTest
@testable import Shared

/// `mop eval --stages` under mpirun on SmolLM2: 2 and 3 stages, and 2 stages x 2 replicas, give one process's
/// perplexity and zero-shot results; each rank holds only its stage's part; bad combinations are refused.
final class PipelineStageTests: XCTestCase {
    func testStagesGiveOneProcesssPerplexityHoldingPartOfTheModel() throws {
        let model = try RealInputs.smolLM2()
        let text = RealInputs.sharedData + "/text/wikitext2-test.txt"
        let args = ["eval", model, "--ppl", text, "--seq-len", "256", "--max-tokens", "2048", "--json"]
        // One BLAS thread, as each rank has: the same products, so the same bits.
        let single = try MopProcess.run(args, timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try XCTUnwrap(single.json?["perplexity"] as? Double)
        XCTAssertNil(single.json?["pipeline"] as? [String: Any])
        let whole = try ModelLoader.load(path: model).weights
        let wholeBytes = ModelPart.whole(layers: 30).bytesHeld(whole)

        // With --broadcast-weights rank 0 sends each stage its part instead of every rank mapping it.
        for (ranks, stages, extra) in [(2, 2, []), (3, 3, ["--broadcast-weights"]), (4, 2, [])] {
            let name = "\(ranks) ranks, \(stages) stages \(extra)"
            let run = try MopProcess.mpirun(ranks: ranks, args + ["--stages", "\(stages)"] + extra, timeout: 240)
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
            let perplexity = try XCTUnwrap(run.json?["perplexity"] as? Double, name)
            // Replicas add their partial sums in another order: float64 rounding only.
            XCTAssertEqual(perplexity, reference, accuracy: 1e-9 * reference, name)
            XCTAssertEqual(run.json?["tokens"] as? Int, single.json?["tokens"] as? Int, name)
            let pipeline = try XCTUnwrap(run.json?["pipeline"] as? [String: Any], name)
            XCTAssertEqual(pipeline["stages"] as? Int, stages, name)
            XCTAssertEqual(pipeline["replicas"] as? Int, ranks / stages, name)
            let blocks = try XCTUnwrap(pipeline["stage_blocks"] as? [[Int]], name)
            XCTAssertEqual(blocks.first?.first, 0, name)
            XCTAssertEqual(blocks.last?.last, 30, name)
            for (earlier, later) in zip(blocks, blocks.dropFirst()) { XCTAssertEqual(earlier[1], later[0], name) }
            let held = try XCTUnwrap(pipeline["weights_held_bytes"] as? [Int], name)
            XCTAssertEqual(held.count, ranks, name)
            // Each stage holds a part: well under the whole model (the tied embedding is on both ends of two stages).
            for bytes in held { XCTAssertLessThan(Double(bytes), 0.8 * Double(wholeBytes), name) }
            let bubble = try XCTUnwrap(pipeline["bubble_share"] as? Double, name)
            XCTAssertTrue((0..<1).contains(bubble), "\(name): bubble \(bubble)")
            // 8 windows of 256 tokens x 576 floats cross each of the stages - 1 links once.
            XCTAssertEqual(pipeline["bytes_between_stages"] as? Int, 8 * 256 * 576 * 4 * (stages - 1), name)
            XCTAssertEqual((run.json?["peak_resident_bytes"] as? [Int])?.count, ranks, name)
            XCTAssertTrue(run.stderr.contains("pipeline stages x"), run.stderr)
        }
    }

    /// Zero-shot examples (shared contexts continued by their choices) through 2 stages and 2 x 2: one process's
    /// accuracies, exactly.
    func testStagesGiveOneProcesssZeroShotResults() throws {
        let model = try RealInputs.smolLM2()
        let args = ["eval", model, "--tasks", "piqa,arc_easy,hellaswag", "--tasks-dir", RealInputs.sharedData + "/tasks",
                    "--limit", "12", "--json"]
        let single = try MopProcess.run(args, timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try XCTUnwrap(single.json?["tasks"] as? [String: [String: Double]])
        for (ranks, stages) in [(2, 2), (4, 2)] {
            let run = try MopProcess.mpirun(ranks: ranks, args + ["--stages", "\(stages)"], timeout: 240)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(try XCTUnwrap(run.json?["tasks"] as? [String: [String: Double]]), reference, "\(ranks) ranks")
        }
    }

    func testBadStageCombinationsAreRefused() throws {
        let model = try RealInputs.smolLM2()
        let text = RealInputs.sharedData + "/text/wikitext2-test.txt"
        let args = ["eval", model, "--ppl", text, "--max-tokens", "600"]
        let cases: [(ranks: Int, extra: [String], message: String)] = [
            (2, ["--stages", "3"], "--stages 3 does not divide the 2 ranks"),
            (2, ["--stages", "40"], "--stages 40 does not divide the 2 ranks"),
            (2, ["--stages", "2", "--dedicated-coordinator"], "cannot be combined"),
            (1, ["--stages", "0"], "--stages must be at least 1"),
        ]
        for (ranks, extra, message) in cases {
            let run = ranks == 1 ? try MopProcess.run(args + extra, timeout: 60)
                                 : try MopProcess.mpirun(ranks: ranks, args + extra, timeout: 60)
            XCTAssertNotEqual(run.status, 0, "\(extra)")
            XCTAssertTrue(run.stderr.contains(message), "\(extra): \(run.stderr)")
            XCTAssertTrue(run.stdout.isEmpty, "\(extra): no partial output")
        }
        // More stages than blocks: 32 ranks would be needed to ask; the layout refuses (PipelineTests).
    }
}
