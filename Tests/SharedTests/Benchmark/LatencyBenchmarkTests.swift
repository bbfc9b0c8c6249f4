import Foundation
import XCTest
@testable import Shared

/// The latency statistics on hand-made timings, the VmHWM parsing, and one real (tiny) run of the protocol.
final class LatencyBenchmarkTests: XCTestCase {
    func testStatisticsDropTheWarmUpRuns() throws {
        // Warm-up runs are slow (10 s) so any leak into the statistics shows.
        let timings = [(10.0, 10.0), (10.0, 10.0), (0.2, 1.0), (0.3, 1.5), (0.1, 2.9), (0.2, 1.2)]
            .map { LatencyBenchmark.Timing(prefillSeconds: $0.0, decodeSeconds: $0.1) }
        let settings = LatencyBenchmark.Settings(runs: 6, warmup: 2, promptTokens: 12, newTokens: 9)
        let result = try LatencyBenchmark.summarize(timings, settings: settings, threads: 3, peakRSSBytes: 4096)
        // Kept totals: 1.2, 1.8, 3.0, 1.4 -> mean 7.4 / 4, median (1.4 + 1.8) / 2.
        XCTAssertEqual(result.latencySeconds, 1.85, accuracy: 1e-12)
        XCTAssertEqual(result.latencyMedianSeconds, 1.6, accuracy: 1e-12)
        XCTAssertEqual(result.latencyMinSeconds, 1.2, accuracy: 1e-12)
        XCTAssertEqual(result.latencyMaxSeconds, 3.0, accuracy: 1e-12)
        XCTAssertEqual(result.runSeconds.count, 4)
        XCTAssertEqual(result.runSeconds[2], 3.0, accuracy: 1e-12)
        // Mean prefill 0.2 s for 12 tokens; mean decode 1.65 s for the 8 tokens the decode steps made.
        XCTAssertEqual(result.prefillTokensPerSecond, 60, accuracy: 1e-9)
        XCTAssertEqual(result.decodeTokensPerSecond, 8 / 1.65, accuracy: 1e-9)
        XCTAssertEqual(result.peakRssBytes, 4096)
        XCTAssertEqual([result.runs, result.warmup, result.promptTokens, result.newTokens, result.threads], [6, 2, 12, 9, 3])
    }

    func testMeanAndMedian() {
        XCTAssertEqual(LatencyBenchmark.mean([1, 2, 6]), 3)
        XCTAssertEqual(LatencyBenchmark.median([5, 1, 3]), 3, "odd count: the middle of the sorted values")
        XCTAssertEqual(LatencyBenchmark.median([4, 1, 10, 2]), 3, "even count: the mean of the two middle values")
        XCTAssertEqual(LatencyBenchmark.median([7]), 7)
        XCTAssertTrue(LatencyBenchmark.mean([]).isNaN)
        XCTAssertTrue(LatencyBenchmark.median([]).isNaN)
    }

    func testSettingsRejectNothingToMeasure() throws {
        let bad: [(LatencyBenchmark.Settings, String)] = [
            (.init(runs: 10, warmup: 10), "--runs (10) must be more than --warmup (10)"),
            (.init(runs: 3, warmup: 5), "--runs (3) must be more than --warmup (5)"),
            (.init(runs: 3, warmup: -1), "--warmup must be 0 or more"),
            (.init(promptTokens: 0), "--prompt-tokens must be at least 1"),
            (.init(newTokens: 1), "--new-tokens must be at least 2"),
        ]
        for (settings, message) in bad {
            XCTAssertThrowsError(try settings.validate()) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        XCTAssertNoThrow(try LatencyBenchmark.Settings().validate())
        let timings = [LatencyBenchmark.Timing](repeating: .init(prefillSeconds: 1, decodeSeconds: 1), count: 3)
        XCTAssertThrowsError(try LatencyBenchmark.summarize(timings, settings: .init(runs: 4, warmup: 1), threads: 1, peakRSSBytes: 0))
    }

    func testPeakRSSFromProcStatus() throws {
        let status = "Name:\tmop\nVmPeak:\t  900000 kB\nVmSize:\t  800000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n"
        XCTAssertEqual(try LatencyBenchmark.peakRSS(status: status, file: "status"), 123456 * 1024)
        XCTAssertEqual(try LatencyBenchmark.peakRSS(status: "VmHWM:       8 kB", file: "status"), 8192)
        let malformed = ["Name:\tmop\nVmRSS:\t 1 kB\n": "has no VmHWM line",
                         "VmHWM:\t abc kB\n": "malformed VmHWM line",
                         "VmHWM:\t 12 MB\n": "malformed VmHWM line",
                         "VmHWM:\t -12 kB\n": "malformed VmHWM line",
                         "VmHWM:\t 99999999999999999 kB\n": "too large"]
        for (text, problem) in malformed {
            XCTAssertThrowsError(try LatencyBenchmark.peakRSS(status: text, file: "/proc/x/status")) {
                XCTAssertTrue("\($0)".hasPrefix("/proc/x/status: "), "\($0)")
                XCTAssertTrue("\($0)".contains(problem), "\($0)")
            }
        }
        XCTAssertThrowsError(try LatencyBenchmark.peakRSS(statusFile: "/nonexistent/status")) {
            XCTAssertTrue("\($0)".hasPrefix("/nonexistent/status: "), "\($0)")
        }
        // This process has loaded at least its own code.
        XCTAssertGreaterThan(try LatencyBenchmark.peakRSS(), 1 << 20)
    }

    func testPromptTokensAreFixed() throws {
        XCTAssertEqual(LatencyBenchmark.prompt(count: 5, tokenizer: nil, vocabSize: 3), [0, 1, 2, 0, 1])
        let spec = TokenizerSpec(vocabulary: (0..<256).map { ByteLevel.encode([UInt8($0)]) }, merges: [], preTokenizer: .gpt2,
                                 specialTokenIds: [], bosTokenId: nil, eosTokenId: nil, addBos: false)
        let tokens = LatencyBenchmark.prompt(count: 12, tokenizer: try BPETokenizer(spec, file: "t"), vocabSize: 256)
        XCTAssertEqual(tokens, "The quick br".utf8.map { Int32($0) }, "byte-level tokens of the fixed sentence")
    }

    func testRunDecodesEveryTokenAndMeasuresThisProcess() throws {
        let config = ModelConfig(vocabSize: 64, hidden: 16, headDim: 4,
                                 layers: [LayerShape](repeating: LayerShape(heads: 2, kvHeads: 1, intermediate: 32), count: 2),
                                 tiedEmbeddings: true, maxPositions: 20)
        let model = Transformer(weights: .random(config: config, seed: 5))
        let settings = LatencyBenchmark.Settings(runs: 3, warmup: 1, promptTokens: 12, newTokens: 9)
        let prompt = LatencyBenchmark.prompt(count: 12, tokenizer: nil, vocabSize: 64)
        let result = try LatencyBenchmark.run(model, prompt: prompt, settings: settings, file: "tiny.gguf")
        XCTAssertGreaterThan(result.latencySeconds, 0)
        XCTAssertGreaterThan(result.decodeTokensPerSecond, 0)
        XCTAssertGreaterThan(result.peakRssBytes, 1 << 20)
        XCTAssertEqual(result.runs, 3)
        // 12 + 9 - 1 = 20 positions fit exactly; one more new token does not.
        XCTAssertThrowsError(try LatencyBenchmark.run(model, prompt: prompt, settings: .init(runs: 3, warmup: 1, newTokens: 10),
                                                      file: "tiny.gguf")) {
            XCTAssertTrue("\($0)".hasPrefix("tiny.gguf: "), "\($0)")
            XCTAssertTrue("\($0)".contains("20 positions"), "\($0)")
        }
    }
}
