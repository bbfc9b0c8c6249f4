import Foundation
import XCTest
@testable import Shared

/// docs/design.md#distribution under mpirun on one host: 3 ranks reach the 1-rank result whatever the weight source and
/// coordinator role; a killed worker ends the job promptly and `--resume` finishes it; ranks that see a missing or
/// different model file stop the job with an error naming the rank.
final class ClusterTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func pruneArgs(_ model: String, out: String, calibration: String, samples: Int = 10, target: Double = 0.3,
                   _ extra: [String] = []) -> [String] {
        ["prune", model, "--target", "\(target)", "--out", out, "--calibration", calibration,
         "--calibration-samples", "\(samples)", "--json"] + extra
    }

    func testThreeRanksMatchOneRankWithEveryWeightSourceAndCoordinatorRole() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        let single = try MopProcess.run(pruneArgs(model, out: directory + "/one", calibration: calibration), timeout: 120,
                                        environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try PruneOutcome(single, directory: directory + "/one")
        XCTAssertEqual(reference.distribution["weights"] as? String, "mapped")
        let parameters = try ModelLoader.load(path: model).weights.config.parameters

        for flags in [[], ["--broadcast-weights"], ["--dedicated-coordinator"], ["--broadcast-weights", "--dedicated-coordinator"]] {
            let out = directory + "/three" + flags.joined()
            let run = try MopProcess.mpirun(ranks: 3, pruneArgs(model, out: out, calibration: calibration, flags), timeout: 180)
            XCTAssertEqual(run.status, 0, "\(flags): \(run.stderr)")
            let outcome = try PruneOutcome(run, directory: out)
            outcome.assertSameSearch(as: reference, "\(flags)")
            let distribution = outcome.distribution
            XCTAssertEqual(distribution["ranks"] as? Int, 3)
            XCTAssertEqual(distribution["model_checksum"] as? String, reference.distribution["model_checksum"] as? String)
            XCTAssertEqual(distribution["dedicated_coordinator"] as? Bool, flags.contains("--dedicated-coordinator"))
            let moved = try XCTUnwrap(distribution["weight_bytes_broadcast"] as? Int)
            if flags.contains("--broadcast-weights") {
                // Every fp32 weight once, plus a header of shape and tokenizer.
                XCTAssertGreaterThanOrEqual(moved, 4 * parameters)
                XCTAssertLessThan(moved, 4 * parameters + 64 * 1024)
                XCTAssertTrue(run.stderr.contains("rank 0 broadcast"), run.stderr)
            } else {
                XCTAssertEqual(moved, 0)
            }
            let perRank = try XCTUnwrap(distribution["per_rank"] as? [[String: Any]])
            XCTAssertEqual(perRank.count, 3)
            let requests = perRank.compactMap { $0["requests"] as? Int }
            XCTAssertEqual(Set(requests).count, 1, "every rank answers every request: \(requests)")
            XCTAssertGreaterThan(requests.first ?? 0, 2 * outcome.iterations.count)
        }
    }

    /// `--stages`: 2 and 3 stages, 2 stages x 2 replicas, and the KL objective through 3 stages, each the 1-rank
    /// search; every rank holds only its stage's weights and the report says what crossed between stages.
    func testPipelineStagesMatchOneRank() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        let weights = try ModelLoader.load(path: model).weights
        for selection in ["loss", "kl"] {
            let one = directory + "/one-" + selection
            let single = try MopProcess.run(pruneArgs(model, out: one, calibration: calibration, ["--selection", selection]),
                                            timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
            XCTAssertEqual(single.status, 0, single.stderr)
            let reference = try PruneOutcome(single, directory: one)
            let layouts = selection == "loss" ? [(2, 2), (3, 3), (2, 4)] : [(3, 3)]
            for (stages, ranks) in layouts {
                let out = directory + "/\(selection)-\(stages)x\(ranks / stages)"
                let run = try MopProcess.mpirun(ranks: ranks, pruneArgs(model, out: out, calibration: calibration,
                                                                        ["--selection", selection, "--stages", "\(stages)"]),
                                                timeout: 180)
                XCTAssertEqual(run.status, 0, run.stderr)
                let outcome = try PruneOutcome(run, directory: out)
                outcome.assertSameSearch(as: reference, "\(selection) \(stages) x \(ranks / stages)")
                XCTAssertTrue(run.stderr.contains("\(stages) pipeline stages x \(ranks / stages) replicas"), run.stderr)
                // The stages' sums combine to the whole model's checksum, which no rank read whole.
                XCTAssertEqual(outcome.distribution["model_checksum"] as? String, reference.distribution["model_checksum"] as? String)
                let pipeline = try XCTUnwrap(outcome.distribution["pipeline"] as? [String: Any])
                let parts = try PipelineLayout(stages: stages, ranks: ranks, blocks: 6).parts(weights.config)
                XCTAssertEqual(pipeline["stage_blocks"] as? [[Int]], parts.map { [$0.blocks.lowerBound, $0.blocks.upperBound] })
                XCTAssertEqual(pipeline["weights_held_bytes"] as? [Int],
                               (0..<ranks).map { parts[$0 % stages].bytesHeld(weights) })
                XCTAssertGreaterThan(try XCTUnwrap(pipeline["bytes_between_stages"] as? Int), 0)
                let bubble = try XCTUnwrap(pipeline["bubble_share"] as? Double)
                XCTAssertTrue(bubble >= 0 && bubble < 1, "\(bubble)")
                // Each stage wrote its part of the exports: one process's bytes, a GGUF part per stage holding anything.
                let written = try PipelineLayout(stages: stages, ranks: ranks, blocks: 6).parts(weights.config, pruned: reference.structure)
                try StagedExportCheck.assertSame(out, as: one, parts: written.filter { !$0.blocks.isEmpty || $0.embeds || $0.head }.count,
                                                 "\(selection) \(stages) x \(ranks / stages)")
                XCTAssertEqual(try ModelLoader.load(path: try XCTUnwrap(GGUFSplitKeys.file(named: "model.gguf", in: out))).weights,
                               try reference.structure.apply(to: weights))
            }
        }
        // Refused while the options are parsed, before MPI: one process, so two ranks' messages cannot interleave.
        let refused = try MopProcess.run(pruneArgs(model, out: directory + "/r", calibration: calibration,
                                                   ["--stages", "2", "--groups", "2"]), timeout: 60)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--stages and --groups cannot be combined"), refused.stderr)
    }

    func testEvalShardsPerplexityWindowsTheSameWayWithBroadcastWeightsAndADedicatedCoordinator() throws {
        let model = try PruneFixtures.tinyModel(in: directory), text = directory + "/text.txt"
        try Data(String(repeating: "Sharded windows must add up to the same perplexity. ", count: 40).utf8)
            .write(to: URL(fileURLWithPath: text))
        let args = ["eval", model, "--ppl", text, "--seq-len", "100", "--json"]
        let single = try MopProcess.run(args, timeout: 60)
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try XCTUnwrap(single.json?["perplexity"] as? Double)
        for flags in [["--broadcast-weights"], ["--dedicated-coordinator"]] {
            let run = try MopProcess.mpirun(ranks: 3, args + flags, timeout: 120)
            XCTAssertEqual(run.status, 0, run.stderr)
            // The reference runs OpenBLAS's default thread count, the ranks one thread each: OpenBLAS splits the
            // products differently (the 8th digit moves), so they agree to fp32 rounding, not bit for bit.
            XCTAssertEqual(try XCTUnwrap(run.json?["perplexity"] as? Double), reference,
                           accuracy: CrossRunTolerance.relative * reference, "\(flags)")
            XCTAssertEqual(run.json?["windows"] as? Int, single.json?["windows"] as? Int)
        }
    }

    func testAKilledWorkerEndsTheJobNamingItsRankAndResumeFinishesTheSameRun() throws {
        try killAndResume([])
    }

    /// Rank 1 holds the middle stage of three: stage 0 waits on it mid-pipeline when it dies.
    func testAKilledPipelineStageEndsTheJobNamingItsRankAndResumeFinishesTheSameRun() throws {
        try killAndResume(["--stages", "3"])
    }

    func killAndResume(_ extra: [String]) throws {
        // Big enough that an iteration takes a good part of a second, so the kill lands mid-search.
        let model = try PruneFixtures.tinyModel(in: directory, layers: 12, hidden: 128, intermediate: 512)
        let calibration = try PruneFixtures.alpaca(in: directory, rows: 16, padding: 8)
        let killed = directory + "/killed", uninterrupted = directory + "/whole"
        let args = pruneArgs(model, out: killed, calibration: calibration, samples: 16, target: 0.5, extra)

        let started = Date()
        nonisolated(unsafe) var victim: Int32?
        nonisolated(unsafe) var killedAt: Date?
        let run = try MopProcess.mpirun(ranks: 3, args, timeout: 300) { mpirun in
            // After the first checkpoint, kill rank 1 (a child of mpirun that mpirun told it is rank 1).
            while mpirun.isRunning && !FileManager.default.fileExists(atPath: killed + "/checkpoint.json") { usleep(20_000) }
            guard mpirun.isRunning, let pid = ChildProcesses.rank(1, of: mpirun.processIdentifier) else { return }
            victim = pid
            killedAt = Date()
            kill(pid, SIGKILL)
        }
        let ended = Date()
        _ = try XCTUnwrap(victim, "no worker killed (the search ended before a checkpoint?): \(run.stderr)")
        XCTAssertNotEqual(run.status, 0)
        XCTAssertLessThan(ended.timeIntervalSince(try XCTUnwrap(killedAt)), 30)
        // mpirun's own report: "process rank 1 with PID ... exited on signal 9 (Killed)".
        XCTAssertTrue(run.stderr.contains("rank 1"), run.stderr)
        XCTAssertTrue(run.stderr.contains("signal 9"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed + "/structure.json"), "killed before the end")
        XCTAssertLessThan(ended.timeIntervalSince(started), 240)

        var resume = args
        resume[resume.firstIndex(of: "--out")!] = "--resume"
        let resumed = try MopProcess.mpirun(ranks: 3, resume, timeout: 300)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let whole = try MopProcess.mpirun(ranks: 3, pruneArgs(model, out: uninterrupted, calibration: calibration,
                                                              samples: 16, target: 0.5, extra), timeout: 300)
        XCTAssertEqual(whole.status, 0, whole.stderr)
        try PruneOutcome(resumed, directory: killed).assertSameSearch(as: try PruneOutcome(whole, directory: uninterrupted), "resumed")
    }

    func testARankMissingTheModelFileStopsTheJobNamingRankAndFile() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        let absent = directory + "/not-on-this-node.gguf"
        let run = try MopProcess.mpirun(programs: [(2, pruneArgs(model, out: directory + "/o", calibration: calibration)),
                                                   (1, pruneArgs(absent, out: directory + "/o", calibration: calibration))],
                                        timeout: 60)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("mop: error (rank 2): \(absent): no such file or directory"), run.stderr)
    }

    func testRanksWithDifferentModelFilesAreCaughtByChecksum() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        // Same shape, other weights: a stale copy on one node.
        let other = try PruneFixtures.tinyModel(in: directory, name: "stale.gguf", seed: 4)
        let run = try MopProcess.mpirun(programs: [(1, pruneArgs(model, out: directory + "/o", calibration: calibration)),
                                                   (1, pruneArgs(other, out: directory + "/o", calibration: calibration)),
                                                   (1, pruneArgs(model, out: directory + "/o", calibration: calibration))],
                                        timeout: 60)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("mop: error (rank 1): \(other): holds other weights than rank 0's model"), run.stderr)
        XCTAssertFalse(run.stderr.contains("(rank 2)"), "rank 2 has the right file: \(run.stderr)")

        let alone = try MopProcess.run(pruneArgs(model, out: directory + "/p", calibration: calibration, ["--dedicated-coordinator"]))
        XCTAssertEqual(alone.status, 1)
        XCTAssertTrue(alone.stderr.contains("--dedicated-coordinator needs at least 2 ranks"), alone.stderr)
    }
}

/// What a `mop prune --json` run decided, for comparing runs.
struct PruneOutcome {
    let structure: PruningStructure
    let path: String
    let iterations: [[String: Any]]
    let distribution: [String: Any]
    /// The whole report.
    let json: [String: Any]

    init(_ run: MopProcess.Output, directory: String) throws {
        let json = try XCTUnwrap(run.json, run.stdout + run.stderr)
        self.json = json
        structure = try PruningStructure.load(path: directory + "/structure.json")
        path = try XCTUnwrap(json["path"] as? String)
        iterations = try XCTUnwrap(json["iterations"] as? [[String: Any]])
        distribution = try XCTUnwrap(json["distribution"] as? [String: Any])
    }

    /// Same path, structure, branches and candidate losses (to `CrossRunTolerance.relative`).
    func assertSameSearch(as other: PruneOutcome, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(path, other.path, label, file: file, line: line)
        XCTAssertEqual(structure, other.structure, label, file: file, line: line)
        XCTAssertEqual(iterations.count, other.iterations.count, label, file: file, line: line)
        for (a, b) in zip(iterations, other.iterations) {
            XCTAssertEqual(a["branch"] as? String, b["branch"] as? String, label, file: file, line: line)
            for key in ["depth_loss", "width_loss"] {
                guard let x = b[key] as? Double else { XCTAssertNil(a[key] as? Double, label, file: file, line: line); continue }
                guard let y = a[key] as? Double else { return XCTFail("\(label): no \(key)", file: file, line: line) }
                XCTAssertEqual(y, x, accuracy: CrossRunTolerance.relative * abs(x), "\(label) \(key)", file: file, line: line)
            }
        }
    }
}

/// The processes mpirun started on this host, found through /proc (Linux).
enum ChildProcesses {
    /// The child of `parent` whose environment says it is MPI rank `rank`.
    static func rank(_ rank: Int, of parent: Int32) -> Int32? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after "(comm)": state, ppid, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == parent,
                  let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
