import Foundation
import XCTest

/// A short run of every parser's fuzz loop (the CI smoke run; scripts/fuzz.sh runs them for minutes): each must end
/// without a crash or timeout, with executions counted and memory bounded.
final class FuzzSmokeTests: XCTestCase {
    func testEveryParserSurvivesAShortFuzzRun() throws {
        var sources: [String] = [], parsers = ["gguf", "safetensors", "config", "structure", "checkpoint", "hfside", "latency", "pairing"]
        // The tokenizer seed comes from the real model, the JSONL seeds from the shared data.
        if let model = try? RealInputs.smolLM2() { sources += ["--model", model]; parsers.append("tokenizer") }
        if let data = ProcessInfo.processInfo.environment["MOP_SHARED_DATA"] { sources += ["--data", data]; parsers.append("jsonl") }
        let out = NSTemporaryDirectory() + "mop-fuzz-smoke-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        for parser in parsers {
            let run = try MopProcess.run(["fuzz", parser, "--seconds", "2", "--runs", "20000", "--out", out] + sources, timeout: 60)
            XCTAssertEqual(run.status, 0, "\(parser): \(run.stderr)")
            XCTAssertTrue(run.stdout.contains(", 0 crashes, 0 timeouts"), run.stdout)
            let executions = Int(run.stdout.split(separator: " ")[2]) ?? 0
            XCTAssertGreaterThan(executions, 100, run.stdout)
            let peak = run.stdout.firstMatch(of: /VmHWM\) (\d+) MB/).flatMap { Int($0.1) } ?? .max
            XCTAssertLessThan(peak, 1024, run.stdout)
        }
    }
}
