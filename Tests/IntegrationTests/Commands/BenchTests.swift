import Foundation
import XCTest
@testable import Shared

/// `mop bench` end to end on two tiny random models: the JSON of a comparison, its ratios, the table, bad inputs;
/// and `mop bench-train`'s JSON.
final class BenchTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// `layers` GQA blocks over a 256-symbol byte vocabulary, saved as GGUF with its tokenizer.
    func tinyModel(_ name: String, layers: Int) throws -> String {
        let vocabulary = (0..<256).map { ByteLevel.encode([UInt8($0)]) }
        let tokenizer = TokenizerSpec(vocabulary: vocabulary, merges: [], preTokenizer: .gpt2, specialTokenIds: [],
                                      bosTokenId: nil, eosTokenId: nil, addBos: false)
        let config = ModelConfig(vocabSize: 256, hidden: 32, headDim: 8,
                                 layers: [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 64), count: layers),
                                 tiedEmbeddings: true, maxPositions: 64)
        let path = directory + "/" + name
        try GGUFWriter.write(weights: .random(config: config, seed: 3), tokenizer: tokenizer, to: path, type: .f32)
        return path
    }

    static let metrics = ["latency_seconds", "latency_median_seconds", "prefill_tokens_per_second",
                          "decode_tokens_per_second", "peak_rss_bytes"]

    func testCompareRunsTheModelsInTurnAndTakesTheRatioFromPairs() throws {
        let model = try tinyModel("tiny.gguf", layers: 4), other = try tinyModel("tiny2.gguf", layers: 2)
        let output = try MopProcess.run(["bench", model, "--compare", other, "--runs", "6", "--warmup", "2",
                                         "--new-tokens", "8", "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json, output.stdout)
        XCTAssertEqual(Set(json.keys), ["model", "compare", "ratio", "schedule"])
        let first = try XCTUnwrap(json["model"] as? [String: Any]), second = try XCTUnwrap(json["compare"] as? [String: Any])
        let ratio = try XCTUnwrap(json["ratio"] as? [String: Any])
        let perModel = Self.metrics + ["latency_min_seconds", "latency_max_seconds", "run_seconds", "runs", "warmup",
                                       "prompt_tokens", "new_tokens", "threads", "blas_kernel", "kernel_isa"]
        for side in [first, second] {
            XCTAssertEqual(Set(side.keys), Set(perModel))
            XCTAssertEqual(side["blas_kernel"] as? String, first["blas_kernel"] as? String)
            XCTAssertNotEqual(side["blas_kernel"] as? String, "unknown")
            XCTAssertTrue(["avx512", "avx2", "baseline"].contains(side["kernel_isa"] as? String ?? ""))
            XCTAssertEqual(side["runs"] as? Int, 6)
            XCTAssertEqual(side["warmup"] as? Int, 2)
            XCTAssertEqual(side["prompt_tokens"] as? Int, 12)
            XCTAssertEqual(side["new_tokens"] as? Int, 8)
            XCTAssertEqual((side["run_seconds"] as? [Double])?.count, 4)
            for key in Self.metrics { XCTAssertGreaterThan(try XCTUnwrap(side[key] as? Double), 0, key) }
            // Each model measured in its own process: its peak RSS is at least its weights' size, and sane.
            XCTAssertLessThan(try XCTUnwrap(side["peak_rss_bytes"] as? Double), 4e9)
        }

        // The runs alternated, warm-up included, one at a time: model, compare, model, compare, ...
        let schedule = try XCTUnwrap(json["schedule"] as? [[String: Any]])
        XCTAssertEqual(schedule.compactMap { $0["model"] as? Int }, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
        XCTAssertEqual(schedule.compactMap { $0["round"] as? Int }, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        let intervals = schedule.compactMap { run in (run["started"] as? Double).flatMap { s in (run["ended"] as? Double).map { (s, $0) } } }
        XCTAssertEqual(intervals.count, 12)
        for (earlier, later) in zip(intervals, intervals.dropFirst()) { XCTAssertLessThanOrEqual(earlier.1, later.0) }
        // Each run's own timing lies inside the interval the driver saw.
        let runSeconds = [try XCTUnwrap(first["run_seconds"] as? [Double]), try XCTUnwrap(second["run_seconds"] as? [Double])]
        for index in schedule.indices where index >= 4 {
            XCTAssertLessThanOrEqual(runSeconds[index % 2][index / 2 - 2], intervals[index].1 - intervals[index].0 + 1e-6)
        }

        // The ratio is the median over the pairs of compare / model, not a ratio of means.
        let pairs = zip(runSeconds[1], runSeconds[0]).map { $0 / $1 }
        XCTAssertEqual(ratio["pairs"] as? Int, 4)
        XCTAssertEqual(try XCTUnwrap(ratio["latency_seconds"] as? Double), LatencyBenchmark.median(pairs), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ratio["latency_seconds_min"] as? Double), pairs.min()!, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ratio["latency_seconds_max"] as? Double), pairs.max()!, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ratio["peak_rss_bytes"] as? Double),
                       try XCTUnwrap(second["peak_rss_bytes"] as? Double) / XCTUnwrap(first["peak_rss_bytes"] as? Double),
                       accuracy: 1e-12)
        for key in ["prefill_tokens_per_second", "decode_tokens_per_second"] {
            XCTAssertGreaterThan(try XCTUnwrap(ratio[key] as? Double), 0, key)
        }

        let table = try MopProcess.run(["bench", model, "--compare", other, "--runs", "2", "--warmup", "1", "--new-tokens", "4"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("tiny.gguf") && table.stdout.contains("tiny2.gguf"), table.stdout)
        XCTAssertTrue(table.stdout.contains("decode tokens/s") && table.stdout.contains("ratio"), table.stdout)
        XCTAssertTrue(table.stdout.contains("median over 1 paired runs, run in turn"), table.stdout)
    }

    func testSingleModelJSON() throws {
        let model = try tinyModel("tiny.gguf", layers: 2)
        let output = try MopProcess.run(["bench", model, "--runs", "2", "--warmup", "1", "--prompt-tokens", "5",
                                         "--new-tokens", "3", "--threads", "1", "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json, output.stdout)
        XCTAssertEqual(json["prompt_tokens"] as? Int, 5)
        XCTAssertEqual(json["threads"] as? Int, 1)
        for key in Self.metrics { XCTAssertGreaterThan(try XCTUnwrap(json[key] as? Double), 0, key) }
    }

    func testBadBenchInputs() throws {
        let model = try tinyModel("tiny.gguf", layers: 2), missing = directory + "/missing.gguf"
        let cases: [([String], String)] = [
            (["bench", missing, "--json"], missing),
            (["bench", model, "--compare", missing, "--runs", "2", "--warmup", "1", "--new-tokens", "2"], missing),
            (["bench", model, "--runs", "10", "--warmup", "10"], "--runs (10) must be more than --warmup (10)"),
            (["bench", model, "--new-tokens", "1"], "--new-tokens must be at least 2"),
            (["bench", model, "--runs", "2", "--warmup", "1", "--new-tokens", "60"], "do not fit the model's 64 positions"),
        ]
        for (args, message) in cases {
            let output = try MopProcess.run(args)
            XCTAssertNotEqual(output.status, 0, args.joined(separator: " "))
            XCTAssertTrue(output.stderr.contains(message), "\(args): \(output.stderr)")
            XCTAssertEqual(output.stderr.split(separator: "\n").filter { $0.hasPrefix("mop: error") }.count, 1, output.stderr)
        }
    }

    func testBenchTrainJSONAndBadInputs() throws {
        let model = try tinyModel("tiny.gguf", layers: 2)
        let output = try MopProcess.run(["bench-train", model, "--seq-len", "40", "--runs", "1", "--threads", "1", "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json, output.stdout)
        XCTAssertEqual(json["tokens"] as? Int, 40)
        XCTAssertEqual(json["threads"] as? Int, 1)
        XCTAssertEqual(json["lora_rank"] as? Int, 8)
        for key in ["step_seconds", "tokens_per_second", "gflop_per_step", "step_gflops", "sgemm_gflops", "ratio"] {
            XCTAssertGreaterThan(try XCTUnwrap(json[key] as? Double), 0, key)
        }
        XCTAssertNotNil(json["peak_step_bytes"] as? Int)

        let long = try MopProcess.run(["bench-train", model, "--seq-len", "65"])
        XCTAssertEqual(long.status, 1)
        XCTAssertTrue(long.stderr.contains(model + ": takes 64 positions"), long.stderr)
        let rank = try MopProcess.run(["bench-train", model, "--seq-len", "8", "--lora-rank", "0"])
        XCTAssertEqual(rank.status, 1)
        XCTAssertTrue(rank.stderr.contains("LoRA rank 0 must be at least 1"), rank.stderr)
    }
}
