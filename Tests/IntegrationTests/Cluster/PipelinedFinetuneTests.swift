import Foundation
import XCTest
@testable import Shared

/// `mop finetune --stages` under mpirun: 2 and 3 stages, and 2 stages x 2 replicas, train as one process (or two
/// data-parallel ranks, whose micro-batches the replicas take) does: the same losses, held-out loss, adapter and merged
/// model; each rank holds its stage's part only and the report gives the bubble and the traffic per step.
final class PipelinedFinetuneTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-pipelined-finetune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testStagesTrainAsOneProcess() throws {
        let model = try TinyByteModel.write(in: directory, layers: 6), rows = try TinyByteModel.alpaca(rows: 16, in: directory)
        func args(_ out: String, _ extra: [String] = []) -> [String] {
            ["finetune", model, "--data", rows, "--out", directory + "/" + out, "--steps", "3", "--batch", "4",
             "--micro-batch", "2", "--lr", "1e-2", "--held-out", "0.25", "--lora-dropout", "0.1", "--format", "gguf",
             "--json"] + extra
        }
        // Dropout masks follow the micro-batches: two replicas take two data-parallel ranks' ones.
        let one = try MopProcess.run(args("one"), timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try MopProcess.mpirun(ranks: 2, args("two"), timeout: 180)
        XCTAssertEqual(two.status, 0, two.stderr)
        let weights = try ModelLoader.load(path: model).weights
        for (stages, ranks) in [(2, 2), (3, 3), (2, 4)] {
            let name = "\(stages) stages x \(ranks / stages) replicas", out = "\(stages)x\(ranks / stages)"
            let (reference, referenceOut) = ranks == stages ? (one, "one") : (two, "two")
            let run = try MopProcess.mpirun(ranks: ranks, args(out, ["--stages", "\(stages)"]), timeout: 180)
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("(\(stages) pipeline stages x \(ranks / stages) replicas)"), run.stderr)
            let json = try XCTUnwrap(run.json, name), expected = try XCTUnwrap(reference.json, name)
            let losses = try XCTUnwrap(json["losses"] as? [Double], name)
            let want = try XCTUnwrap(expected["losses"] as? [Double], name)
            XCTAssertEqual(losses.count, 3, name)
            for (got, loss) in zip(losses, want) { XCTAssertEqual(got, loss, accuracy: 1e-5 * loss, name) }
            let after = try XCTUnwrap(expected["held_out_loss_after"] as? Double, name)
            XCTAssertEqual(try XCTUnwrap(json["held_out_loss_after"] as? Double, name), after, accuracy: 1e-5 * after, name)

            // The adapter and the merged model rank 0 put together from the stages.
            let adapter = try PEFTAdapter.load(from: directory + "/" + out + "/adapter", model: weights.config)
            let referenceAdapter = try PEFTAdapter.load(from: directory + "/" + referenceOut + "/adapter", model: weights.config)
            XCTAssertEqual(adapter.layout, referenceAdapter.layout, name)
            for (x, y) in zip(adapter.parameters, referenceAdapter.parameters) { XCTAssertEqual(x, y, accuracy: 1e-5, name) }
            XCTAssertNotEqual(adapter.parameters, LoRAAdapters(config: adapter.config, model: weights.config, seed: 0).parameters)
            // Each stage wrote its part: a split GGUF of one part per stage.
            let first = try XCTUnwrap(GGUFSplitKeys.file(named: "model.gguf", in: directory + "/" + out), name)
            XCTAssertTrue(first.hasSuffix("model-00001-of-0000\(stages).gguf"), first)
            let merged = try ModelLoader.load(path: first).weights
            let referenceMerged = try ModelLoader.load(path: directory + "/" + referenceOut + "/model.gguf").weights
            for ((tensorName, got), (_, want)) in zip(merged.namedTensors(), referenceMerged.namedTensors()) {
                XCTAssertEqual(got.shape, want.shape, tensorName)
                for (x, y) in zip(got.data, want.data) { XCTAssertEqual(x, y, accuracy: 1e-5, "\(name): \(tensorName)") }
            }

            let pipeline = try XCTUnwrap(json["pipeline"] as? [String: Any], name)
            let parts = try PipelineLayout(stages: stages, ranks: ranks, blocks: 6).parts(weights.config)
            XCTAssertEqual(pipeline["stage_blocks"] as? [[Int]], parts.map { [$0.blocks.lowerBound, $0.blocks.upperBound] }, name)
            XCTAssertEqual(pipeline["weights_held_bytes"] as? [Int], (0..<ranks).map { parts[$0 % stages].bytesHeld(weights) }, name)
            let bubble = try XCTUnwrap(pipeline["bubble_share"] as? Double, name)
            XCTAssertTrue(bubble >= 0 && bubble < 1, "\(name): bubble \(bubble)")
            // Every step's tokens cross each link forward as activations and back as their gradients.
            let tokens = try XCTUnwrap(json["tokens"] as? Int, name)
            let bytes = 2 * tokens * (stages - 1) * weights.config.hidden * 4
            XCTAssertEqual(pipeline["bytes_between_stages"] as? Int, bytes, name)
            XCTAssertEqual(json["bytes_between_stages_per_step"] as? Int, bytes / 3, name)
        }
    }
}
