import Foundation
import XCTest

/// `mop plan`: layouts for the README's 70B shape, a real file's exact stored bytes, and refused inputs.
final class PlanCommandTests: XCTestCase {
    func config(_ name: String) -> String { RealInputs.packageRoot.appendingPathComponent("cluster/plan/\(name).json").path }

    func testA70BInBf16NeedsStagesOnNodesOf64GB() throws {
        let args = ["plan", config("llama2-70b"), "--nodes", "8", "--memory-per-node", "64", "--cores-per-node", "32",
                    "--core-gflops", "80", "--json"]
        let bf16 = try MopProcess.run(args + ["--bytes-per-parameter", "2"], timeout: 60)
        XCTAssertEqual(bf16.status, 0, bf16.stderr)
        let stages = try XCTUnwrap(bf16.json?["stages"] as? [[String: Any]])
        // 138 GB of weights: two stages of ~69 GB do not fit 64 GB, so four (the next divisor of 8) do, 2 replicas.
        XCTAssertEqual(stages.count, 4)
        XCTAssertEqual(bf16.json?["replicas"] as? Int, 2)
        let weights = stages.compactMap { $0["weight_bytes"] as? Int }
        XCTAssertEqual(Double(weights.reduce(0, +)), 2 * 68_976_648_192, accuracy: 2 * 32000 * 8192 + 1)
        for stage in stages { XCTAssertLessThanOrEqual(try XCTUnwrap(stage["resident_bytes"] as? Int), 64_000_000_000) }
        // At 4.5 bits a weight one node holds it all: 8 replicas.
        let quantized = try MopProcess.run(args + ["--bytes-per-parameter", "0.5625"], timeout: 60)
        XCTAssertEqual(quantized.status, 0, quantized.stderr)
        XCTAssertEqual((quantized.json?["stages"] as? [Any])?.count, 1)
        XCTAssertEqual(quantized.json?["replicas"] as? Int, 8)
    }

    func testARealFileIsPlannedFromItsStoredBytes() throws {
        let run = try MopProcess.run(["plan", try RealInputs.smolLM2(), "--nodes", "2", "--memory-per-node", "0.15",
                                      "--cores-per-node", "1"], timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("layout: 2 stages x 1 replicas"), run.stdout)
        XCTAssertTrue(run.stdout.contains("stage 0: blocks 0-18, weights 72 MB"), run.stdout)
        XCTAssertTrue(run.stdout.contains("stage 1: blocks 19-29, weights 54 MB"), run.stdout)
    }

    /// Counts past 2^31 are printed whole (a C `%d` would print their low 32 bits).
    func testLargeCountsArePrintedWhole() throws {
        let run = try MopProcess.run(["plan", config("llama2-70b"), "--nodes", "8", "--memory-per-node", "64", "--cores-per-node", "32",
                                      "--bytes-per-parameter", "0.5625", "--core-gflops", "50", "--calibration-tokens", "1099511627776"],
                                     timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("over 1099511627776 calibration tokens"), run.stdout)
    }

    func testBadPlansAreRefused() throws {
        let cases: [([String], String)] = [
            (["plan", config("llama2-7b"), "--nodes", "2", "--memory-per-node", "64", "--cores-per-node", "8"], "needs --bytes-per-parameter"),
            (["plan", config("llama2-7b"), "--nodes", "2", "--memory-per-node", "1", "--cores-per-node", "8",
              "--bytes-per-parameter", "2", "--core-gflops", "50"], "does not fit"),
            (["plan", config("llama2-7b"), "--nodes", "0", "--memory-per-node", "64", "--cores-per-node", "8"], "--nodes 0 is outside 1...1048576"),
            // Sizes no cluster has: refused before any arithmetic on them can overflow.
            (["plan", config("llama2-7b"), "--nodes", "4", "--memory-per-node", "1e300", "--cores-per-node", "8"],
             "--memory-per-node 1e+300 is outside (0.0, 1000000.0]"),
            (["plan", config("llama2-7b"), "--nodes", "4", "--memory-per-node", "64", "--cores-per-node", "1000000000000"],
             "--cores-per-node 1000000000000 is outside 1...4096"),
            (["plan", config("llama2-7b"), "--nodes", "4", "--memory-per-node", "64", "--cores-per-node", "8", "--core-gflops", "1e-320"],
             "--core-gflops 1e-320 is outside [0.001, 1000000.0]"),
            (["plan", config("llama2-7b"), "--nodes", "4", "--memory-per-node", "64", "--cores-per-node", "8",
              "--calibration-tokens", "9000000000000000000"], "--calibration-tokens 9000000000000000000 is outside 2...1099511627776"),
            (["plan", config("llama2-7b"), "--nodes", "2", "--memory-per-node", "64", "--cores-per-node", "8",
              "--bytes-per-parameter", "2", "--seq-len", "5000"], "longer than the model's 4096 positions"),
            (["plan", "/nonexistent.gguf", "--nodes", "2", "--memory-per-node", "64", "--cores-per-node", "8"], "/nonexistent.gguf"),
            (["plan", try RealInputs.smolLM2(), "--nodes", "2", "--memory-per-node", "64", "--cores-per-node", "8",
              "--bytes-per-parameter", "2"], "is for a bare config.json"),
        ]
        for (args, message) in cases {
            let run = try MopProcess.run(args, timeout: 60)
            XCTAssertNotEqual(run.status, 0, "\(args)")
            XCTAssertTrue(run.stderr.contains(message), "\(args): \(run.stderr)")
            XCTAssertTrue(run.stdout.isEmpty, "\(args)")
        }
    }
}
