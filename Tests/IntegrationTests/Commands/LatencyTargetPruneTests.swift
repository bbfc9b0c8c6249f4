import Foundation
import XCTest
@testable import Shared

/// `mop prune --target-latency` end to end on a tiny model: the latency model measured and kept, a search that stops
/// on its prediction, a resume that reuses it, a measured ratio with --eval, under mpirun too.
final class LatencyTargetPruneTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-latency-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func args(_ model: String, out: String, _ extra: [String] = []) throws -> [String] {
        ["prune", model, "--target-latency", "0.7", "--latency-rounds", "2", "--out", out, "--calibration",
         try PruneFixtures.alpaca(in: directory, rows: 12), "--calibration-samples", "10", "--format", "gguf",
         "--json"] + extra
    }

    /// The measurement itself (a tiny model's times are mostly noise, so the search is only started): the latency
    /// model is fitted to six probes and kept, the search predicts with it, and a resume reads it back.
    func testTheLatencyModelIsMeasuredKeptAndReadBack() throws {
        let model = try PruneFixtures.tinyModel(in: directory), out = directory + "/out"
        let run = try MopProcess.run(try args(model, out: out, ["--max-iterations", "1"]), timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("measuring the latency model: 6 probe shapes, 2 rounds"), run.stderr)
        let file = out + "/latency-model.json"
        let saved = try JSONDecoder().decode(LatencyModel.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        XCTAssertEqual(saved.samples.map(\.name), ["dense", "half the blocks", "half the neurons",
                                                    "half the query heads of each group", "half the KV groups", "all of these"])
        XCTAssertTrue(saved.samples.allSatisfy { $0.seconds > 0 })
        // The iteration's prediction is the kept model's, for the structure the step made.
        let report = try XCTUnwrap(run.json, run.stdout)
        let iteration = try XCTUnwrap((report["iterations"] as? [[String: Any]])?.first)
        let config = try ModelLoader.load(path: out + "/model.gguf").weights.config
        let dense = try ModelLoader.load(path: model).weights.config
        XCTAssertEqual(try XCTUnwrap(iteration["predicted_latency"] as? Double),
                       saved.seconds(config) / saved.seconds(dense), accuracy: 1e-12)

        // A resume reads the kept model rather than measuring again.
        var again = try args(model, out: out, ["--max-iterations", "2"])
        again[again.firstIndex(of: "--out")!] = "--resume"
        let second = try MopProcess.run(again, timeout: 120)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertFalse(second.stderr.contains("measuring the latency model"), second.stderr)
        XCTAssertEqual(try JSONDecoder().decode(LatencyModel.self, from: Data(contentsOf: URL(fileURLWithPath: file))), saved)

        // A damaged latency model is named, not re-measured behind the user's back.
        try Data("{".utf8).write(to: URL(fileURLWithPath: file))
        let broken = try MopProcess.run(again, timeout: 60)
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stderr.contains("latency-model.json: ") && broken.stderr.contains("not valid JSON"),
                      broken.stderr)
    }

    func testBothTargetsOrNoneAreRefused() throws {
        let model = try PruneFixtures.tinyModel(in: directory)
        var both = try args(model, out: directory + "/a")
        both += ["--target", "0.2"]
        let none = try args(model, out: directory + "/b").filter { $0 != "--target-latency" && $0 != "0.7" }
        for arguments in [both, none] {
            let run = try MopProcess.run(arguments, timeout: 30)
            XCTAssertEqual(run.status, 64, run.stderr)
            XCTAssertTrue(run.stderr.contains("give either --target"), run.stderr)
        }
    }

    /// A latency model of the tiny model in which a block, a head and a neuron all cost something.
    func latencyModelFile(layers: Int = 6) throws -> String {
        let shapes = Array(repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 64), count: layers)
        let model = LatencyModel(constantSeconds: 0.2, blockSeconds: 0.01, queryHeadSeconds: 0.004, kvHeadSeconds: 0.006,
                                 neuronSeconds: 0.0008, samples: [.init(name: "dense", shapes: shapes, seconds: 0.6)],
                                 promptTokens: 12, newTokens: 128)
        let file = directory + "/latency-\(layers).json"
        try JSONEncoder().encode(model).write(to: URL(fileURLWithPath: file))
        return file
    }

    func testTwoRanksStopWhereOneDoesWithAGivenLatencyModel() throws {
        let model = try PruneFixtures.tinyModel(in: directory), file = try latencyModelFile()
        let text = directory + "/text.txt"
        try Data(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 20).utf8)
            .write(to: URL(fileURLWithPath: text))
        let one = try MopProcess.run(try args(model, out: directory + "/one", [
            "--latency-model", file, "--eval", "--eval-text", text, "--eval-seq-len", "64", "--eval-tasks", "none",
            "--bench-runs", "3", "--bench-warmup", "1"]), timeout: 300)
        XCTAssertEqual(one.status, 0, one.stderr)
        let latency = try XCTUnwrap(one.json?["latency"] as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(latency["measured"] as? Double), 0, "--eval timed the pruned model")
        let iterations = try XCTUnwrap(one.json?["iterations"] as? [[String: Any]])
        XCTAssertGreaterThan(try XCTUnwrap(iterations.dropLast().last?["predicted_latency"] as? Double), 0.705,
                             "the search stopped at the first step that met the target")
        XCTAssertTrue(try String(contentsOfFile: directory + "/one/report.md", encoding: .utf8).contains("## Latency target"))
        XCTAssertFalse(one.stderr.contains("measuring the latency model"), one.stderr)
        let two = try MopProcess.mpirun(ranks: 2, try args(model, out: directory + "/two", ["--latency-model", file]),
                                        timeout: 180)
        XCTAssertEqual(two.status, 0, two.stderr)
        let structure = try PruningStructure.load(path: directory + "/one/structure.json")
        XCTAssertEqual(try PruningStructure.load(path: directory + "/two/structure.json"), structure)
        // Dense 0.2 + 6 * (0.01 + 0.016 + 0.012 + 0.0512) = 0.7352 s: the search stops within 0.5 point of 70%.
        let predicted = try XCTUnwrap((one.json?["latency"] as? [String: Any])?["predicted"] as? Double)
        let config = try ModelLoader.load(path: directory + "/one/model.gguf").weights.config
        let seconds = config.layers.reduce(0.2) {
            $0 + 0.01 + Double($1.heads) * 0.004 + Double($1.kvHeads) * 0.006 + Double($1.intermediate) * 0.0008
        }
        XCTAssertEqual(predicted, seconds / 0.7352, accuracy: 1e-9)
        XCTAssertLessThanOrEqual(predicted, 0.705)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/one/latency-model.json"))

        // A latency model of another model is refused, naming the file; so is an unreachable target.
        let other = try latencyModelFile(layers: 5)
        let refused = try MopProcess.run(try args(model, out: directory + "/three", ["--latency-model", other]), timeout: 60)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(other + ": was measured on another model (5 blocks"), refused.stderr)
        var tooFar = try args(model, out: directory + "/four", ["--latency-model", file])
        tooFar[tooFar.firstIndex(of: "0.7")!] = "0.2"
        let unreachable = try MopProcess.run(tooFar, timeout: 60)
        XCTAssertEqual(unreachable.status, 1)
        XCTAssertTrue(unreachable.stderr.contains("cannot be reached: the smallest model the search can make"),
                      unreachable.stderr)
    }
}
