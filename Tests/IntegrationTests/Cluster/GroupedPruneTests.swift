import Foundation
import XCTest
@testable import Shared

/// `mop prune --groups G` under mpirun (issue 16 part 3): the ranks split into groups that answer the candidates of
/// an iteration side by side, and the search is the one a single group makes; the report shows each group's share;
/// a lost rank still ends the job naming it; group counts that leave a group without a scoring rank are refused.
final class GroupedPruneTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-groups-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// A beam of 2: four candidates an iteration, so every group gets some.
    func pruneArgs(_ model: String, out: String, calibration: String, samples: Int, target: Double, groups: Int,
                   _ extra: [String] = []) -> [String] {
        ["prune", model, "--target", "\(target)", "--out", out, "--calibration", calibration,
         "--calibration-samples", "\(samples)", "--beam", "2", "--groups", "\(groups)", "--json"] + extra
    }

    func testTwoGroupsOnSmolLM2ChooseThePathAndLossesOfOneGroup() throws {
        let model = try RealInputs.smolLM2(), calibration = RealInputs.sharedData + "/instruct/alpaca.jsonl"
        var outcomes: [PruneOutcome] = []
        for groups in [1, 2] {
            let out = directory + "/groups\(groups)"
            let run = try MopProcess.mpirun(ranks: 2, pruneArgs(model, out: out, calibration: calibration, samples: 4,
                                                                target: 0.05, groups: groups, ["--seq-len", "64"]),
                                            timeout: 300)
            XCTAssertEqual(run.status, 0, run.stderr)
            outcomes.append(try PruneOutcome(run, directory: out))
        }
        outcomes[1].assertSameSearch(as: outcomes[0], "--groups 2")
        try assertSameBeam(outcomes[1], outcomes[0])
        try assertGroups(outcomes[1].distribution, ranksByGroup: [[0], [1]])
    }

    func testThreeRanksInTwoGroupsMatchOneRankWithAndWithoutADedicatedCoordinator() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        let single = try MopProcess.run(pruneArgs(model, out: directory + "/one", calibration: calibration, samples: 10,
                                                  target: 0.3, groups: 1),
                                        timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try PruneOutcome(single, directory: directory + "/one")
        for flags in [[], ["--dedicated-coordinator"]] {
            let out = directory + "/three" + flags.joined()
            let run = try MopProcess.mpirun(ranks: 3, pruneArgs(model, out: out, calibration: calibration, samples: 10,
                                                                target: 0.3, groups: 2, flags), timeout: 180)
            XCTAssertEqual(run.status, 0, "\(flags): \(run.stderr)")
            let outcome = try PruneOutcome(run, directory: out)
            outcome.assertSameSearch(as: reference, "\(flags)")
            try assertSameBeam(outcome, reference)
            // Without a dedicated coordinator ranks 0 and 1 share group 0; with one, rank 0 leads group 0 and
            // scores nothing, and ranks 1 and 2 are a group each.
            try assertGroups(outcome.distribution, ranksByGroup: [[0, 1], [2]])
        }
    }

    func testAKilledRankOfTheSecondGroupEndsTheJobNamingIt() throws {
        // Big enough that an iteration takes a good part of a second, so the kill lands mid-search.
        let model = try PruneFixtures.tinyModel(in: directory, layers: 12, hidden: 128, intermediate: 512)
        let calibration = try PruneFixtures.alpaca(in: directory, rows: 16, padding: 8)
        let out = directory + "/killed"
        nonisolated(unsafe) var killedAt: Date?
        let run = try MopProcess.mpirun(ranks: 3, pruneArgs(model, out: out, calibration: calibration, samples: 16,
                                                            target: 0.5, groups: 2), timeout: 300) { mpirun in
            while mpirun.isRunning && !FileManager.default.fileExists(atPath: out + "/checkpoint.json") { usleep(20_000) }
            guard mpirun.isRunning, let pid = ChildProcesses.rank(2, of: mpirun.processIdentifier) else { return }
            killedAt = Date()
            kill(pid, SIGKILL)
        }
        let ended = Date()
        let killed = try XCTUnwrap(killedAt, "no rank killed (the search ended before a checkpoint?): \(run.stderr)")
        XCTAssertNotEqual(run.status, 0)
        XCTAssertLessThan(ended.timeIntervalSince(killed), 30)
        XCTAssertTrue(run.stderr.contains("rank 2"), run.stderr)
        XCTAssertTrue(run.stderr.contains("signal 9"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/structure.json"), "killed before the end")
    }

    func testGroupCountsWithoutAScoringRankForEachGroupAreOneLineErrors() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 4)
        let args = { (groups: Int) in
            self.pruneArgs(model, out: self.directory + "/g\(groups)", calibration: calibration, samples: 4, target: 0.2,
                           groups: groups)
        }
        try OneLineError.assert(args(0), naming: "--groups", saying: "must be at least 1, got 0")
        try OneLineError.assert(args(2), naming: "--groups 2", saying: "needs at least 2 scoring ranks, this job has 1")
        let tooMany = try MopProcess.mpirun(ranks: 2, args(2) + ["--dedicated-coordinator"], timeout: 60)
        XCTAssertNotEqual(tooMany.status, 0)
        XCTAssertTrue(tooMany.stderr.contains("--groups 2 needs at least 2 scoring ranks, this job has 1 (rank 0 only coordinates)"),
                      tooMany.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/g2"), "refused before creating the output")
    }

    /// The same kept paths and objectives in every beam iteration.
    func assertSameBeam(_ outcome: PruneOutcome, _ reference: PruneOutcome, file: StaticString = #filePath, line: UInt = #line) throws {
        let beam = try XCTUnwrap(outcome.json["beam"] as? [[String: Any]]), expected = try XCTUnwrap(reference.json["beam"] as? [[String: Any]])
        XCTAssertEqual(beam.count, expected.count, file: file, line: line)
        for (a, b) in zip(beam, expected) {
            let kept = try XCTUnwrap(a["kept"] as? [[String: Any]]), keptExpected = try XCTUnwrap(b["kept"] as? [[String: Any]])
            XCTAssertEqual(kept.compactMap { $0["path"] as? String }, keptExpected.compactMap { $0["path"] as? String },
                           file: file, line: line)
            for (x, y) in zip(kept.compactMap { $0["objective"] as? Double }, keptExpected.compactMap { $0["objective"] as? Double }) {
                XCTAssertEqual(x, y, accuracy: CrossRunTolerance.relative * abs(y), file: file, line: line)
            }
        }
    }

    /// The report's groups: which ranks, each group's requests (every rank of a group answers each of them, and
    /// every group gets some), and the per-group sums of the per-rank numbers.
    func assertGroups(_ distribution: [String: Any], ranksByGroup: [[Int]], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(distribution["groups"] as? Int, ranksByGroup.count, file: file, line: line)
        let perRank = try XCTUnwrap(distribution["per_rank"] as? [[String: Any]])
        let perGroup = try XCTUnwrap(distribution["per_group"] as? [[String: Any]])
        XCTAssertEqual(perGroup.compactMap { $0["ranks"] as? [Int] }, ranksByGroup, file: file, line: line)
        for (index, group) in perGroup.enumerated() {
            let members = perRank.filter { ($0["group"] as? Int) == index }
            XCTAssertEqual(members.compactMap { $0["rank"] as? Int }, ranksByGroup[index], file: file, line: line)
            let requests = Set(members.compactMap { $0["requests"] as? Int })
            XCTAssertEqual(requests.count, 1, "group \(index): \(requests)", file: file, line: line)
            XCTAssertEqual(group["requests"] as? Int, requests.first, file: file, line: line)
            XCTAssertGreaterThan(requests.first ?? 0, 0, "group \(index) answered nothing", file: file, line: line)
            let compute = members.compactMap { $0["compute_seconds"] as? Double }.reduce(0, +)
            XCTAssertEqual(try XCTUnwrap(group["compute_seconds"] as? Double), compute, accuracy: 1e-9, file: file, line: line)
        }
    }
}
