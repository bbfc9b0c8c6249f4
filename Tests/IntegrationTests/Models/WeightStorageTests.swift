import Foundation
import XCTest

/// `--weights stored|bf16|fp32` on the real models: weights kept as stored give the fp32 path's perplexity and
/// pruning path (1e-6), in about the file's memory; bf16 is a rounding of them.
final class WeightStorageTests: XCTestCase {
    var wikitext: String { RealInputs.sharedData + "/text/wikitext2-test.txt" }

    func evaluate(_ model: String, weights: String) throws -> (perplexity: Double, peak: Int) {
        let output = try MopProcess.run(["eval", model, "--ppl", wikitext, "--seq-len", "256", "--max-tokens", "1024",
                                         "--weights", weights, "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json, output.stdout)
        XCTAssertEqual(json["weights"] as? String, weights)
        let peaks = try XCTUnwrap(json["peak_resident_bytes"] as? [Int])
        XCTAssertEqual(peaks.count, 1)
        return (try XCTUnwrap(json["perplexity"] as? Double), peaks[0])
    }

    func fileSize(_ path: String) throws -> Int {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    func assertStoredEqualsFp32(_ model: String) throws {
        let stored = try evaluate(model, weights: "stored"), fp32 = try evaluate(model, weights: "fp32")
        let bf16 = try evaluate(model, weights: "bf16")
        XCTAssertEqual(stored.perplexity, fp32.perplexity, accuracy: 1e-6 * fp32.perplexity)
        // bf16 rounds every weight (8 bits of mantissa): close, not equal.
        XCTAssertNotEqual(bf16.perplexity, fp32.perplexity)
        XCTAssertEqual(bf16.perplexity, fp32.perplexity, accuracy: 0.03 * fp32.perplexity)
        // fp32 takes 4 bytes a weight, stored the file's 0.6-0.7: the peak shows it.
        let size = try fileSize(model)
        XCTAssertLessThan(stored.peak, 2 * size, "stored peak \(stored.peak) for a \(size)-byte file")
        XCTAssertGreaterThan(fp32.peak, 4 * size)
        XCTAssertLessThan(stored.peak, bf16.peak)
    }

    func testSmolLM2StoredEqualsFp32InAFractionOfTheMemory() throws {
        try assertStoredEqualsFp32(try RealInputs.smolLM2())
    }

    func testQwen05StoredEqualsFp32InAFractionOfTheMemory() throws {
        try assertStoredEqualsFp32(try RealInputs.qwen05())
    }

    /// Two MoP iterations on SmolLM2 choose the same path with the same losses whichever way the weights are held.
    func testThePruningPathIsTheSameStoredOrFp32() throws {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alpaca = RealInputs.sharedData + "/instruct/alpaca.jsonl"
        var reports: [[String: Any]] = []
        for weights in ["stored", "fp32"] {
            let run = try MopProcess.run(["prune", try RealInputs.smolLM2(), "--target", "0.2", "--max-iterations", "2",
                                          "--calibration", alpaca, "--calibration-samples", "8", "--format", "gguf",
                                          "--out", directory + "/" + weights, "--weights", weights, "--json"], timeout: 600)
            XCTAssertEqual(run.status, 0, run.stderr)
            reports.append(try XCTUnwrap(run.json, run.stdout))
        }
        XCTAssertEqual(reports[0]["path"] as? String, reports[1]["path"] as? String)
        let iterations = try reports.map { try XCTUnwrap($0["iterations"] as? [[String: Any]]) }
        XCTAssertEqual(iterations[0].count, 2)
        for (a, b) in zip(iterations[0], iterations[1]) {
            for key in ["depth_loss", "width_loss"] {
                let x = try XCTUnwrap(a[key] as? Double), y = try XCTUnwrap(b[key] as? Double)
                XCTAssertEqual(x, y, accuracy: 1e-6 * abs(y), key)
            }
        }
    }
}
