import Foundation
import XCTest
@testable import Shared

/// `mop prune` across the local virtual cluster (cluster/virtual: 3 network namespaces on a bridge, each its own
/// host address, mpirun reaching them through an `ip netns exec` remote shell, ranks talking over TCP only) gives the
/// same result as one process on one host. Needs root for `ip netns add`; where the machine refuses namespaces the
/// tests are skipped with the reason.
final class VirtualClusterTests: XCTestCase {
    var directory = ""
    var cluster = ""
    var subnet = ""

    override func setUpWithError() throws {
        // A name and subnet of its own, so runs of other checkouts on the same machine do not collide.
        cluster = String(format: "vc%05x", UInt32.random(in: 0..<0x10_0000))
        subnet = "10.77.\(Int.random(in: 10...250))"
        let probe = try MopProcess.launch("/bin/bash", ["-c", "ip netns add \(cluster)p && ip netns del \(cluster)p"],
                                          timeout: 30, environment: [:])
        guard probe.status == 0 else {
            throw XCTSkip("network namespaces are not available on this machine (ip netns add: \(probe.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); the virtual-cluster tests need root")
        }
        let up = try MopProcess.script("cluster/virtual/up.sh", [cluster, subnet], timeout: 60)
        XCTAssertEqual(up.status, 0, up.stderr)
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-vc-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        guard !directory.isEmpty else { return }
        let down = try MopProcess.script("cluster/virtual/down.sh", [cluster], timeout: 60)
        XCTAssertEqual(down.status, 0, down.stderr)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// mpirun over the virtual cluster, one rank per namespace.
    func virtualMpirun(_ program: [String], hostfile: String? = nil, timeout: TimeInterval = 240) throws -> MopProcess.Output {
        try MopProcess.script("cluster/virtual/mpirun.sh",
                              [cluster, "--allow-run-as-root", "--bind-to", "none", "-np", "3", "-x", "OPENBLAS_NUM_THREADS=1"] + program,
                              timeout: timeout,
                              environment: ["OPENBLAS_NUM_THREADS": "1"].merging(hostfile.map { ["MOP_VC_HOSTFILE": $0] } ?? [:]) { $1 })
    }

    func testPruneAcrossThreeNamespacesOverTCPEqualsOneHost() throws {
        // Each rank is in its own namespace, seeing only its own address.
        let addresses = try virtualMpirun(["/bin/sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"], timeout: 60)
        XCTAssertEqual(addresses.status, 0, addresses.stderr)
        XCTAssertEqual(Set(addresses.stdout.split(separator: "\n").map(String.init)),
                       Set((1...3).map { "\(subnet).\($0)/24" }), addresses.stdout)

        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        func args(_ out: String, _ extra: [String] = []) -> [String] {
            ["prune", model, "--target", "0.3", "--out", directory + "/" + out, "--calibration", calibration,
             "--calibration-samples", "10", "--json"] + extra
        }
        let single = try MopProcess.run(args("one"), timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try PruneOutcome(single, directory: directory + "/one")
        for extra in [[], ["--broadcast-weights"], ["--stages", "3"]] {
            let out = "three" + extra.joined()
            let run = try virtualMpirun([MopProcess.binary] + args(out, extra))
            XCTAssertEqual(run.status, 0, "\(extra): \(run.stderr)")
            let outcome = try PruneOutcome(run, directory: directory + "/" + out)
            outcome.assertSameSearch(as: reference, "virtual cluster \(extra)")
            XCTAssertEqual(outcome.distribution["ranks"] as? Int, 3)
            XCTAssertEqual(outcome.distribution["model_checksum"] as? String, reference.distribution["model_checksum"] as? String)
        }
    }

    /// `eval --stages 3`: one stage per namespace, the activations crossing over TCP, gives one process's perplexity.
    func testPipelineStagesAcrossThreeNamespacesEqualOneHost() throws {
        let model = try RealInputs.smolLM2()
        let args = ["eval", model, "--ppl", RealInputs.sharedData + "/text/wikitext2-test.txt", "--seq-len", "256",
                    "--max-tokens", "1024", "--json"]
        let single = try MopProcess.run(args, timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let run = try virtualMpirun([MopProcess.binary] + args + ["--stages", "3"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try XCTUnwrap(run.json?["perplexity"] as? Double), try XCTUnwrap(single.json?["perplexity"] as? Double))
        let pipeline = try XCTUnwrap(run.json?["pipeline"] as? [String: Any])
        XCTAssertEqual(pipeline["stages"] as? Int, 3)
        XCTAssertEqual(pipeline["bytes_between_stages"] as? Int, 4 * 256 * 576 * 4 * 2)
    }

    func testANodeWithoutTheModelFileFailsNamingItsRankUnlessWeightsAreBroadcast() throws {
        let model = try PruneFixtures.tinyModel(in: directory), calibration = try PruneFixtures.alpaca(in: directory, rows: 12)
        let absent = directory + "/only-on-the-first-nodes.gguf"
        func programs(_ out: String, _ extra: [String]) -> [String] {
            let args = ["--target", "0.3", "--out", directory + "/" + out, "--calibration", calibration,
                        "--calibration-samples", "10", "--json"] + extra
            return ["-np", "2", MopProcess.binary, "prune", model] + args + [":", "-np", "1", MopProcess.binary, "prune", absent] + args
        }
        // The launcher's own -np 3 would add a fourth rank: this run gives the counts per program instead.
        func run(_ out: String, _ extra: [String]) throws -> MopProcess.Output {
            try MopProcess.script("cluster/virtual/mpirun.sh",
                                  [cluster, "--allow-run-as-root", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS=1"]
                                      + programs(out, extra), timeout: 120, environment: ["OPENBLAS_NUM_THREADS": "1"])
        }
        let start = Date()
        let mapped = try run("mapped", [])
        XCTAssertNotEqual(mapped.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        XCTAssertTrue(mapped.stderr.contains("mop: error (rank 2): \(absent): no such file or directory"), mapped.stderr)

        // Rank 2's node never reads its path when rank 0 broadcasts the weights.
        let broadcast = try run("broadcast", ["--broadcast-weights"])
        XCTAssertEqual(broadcast.status, 0, broadcast.stderr)
        let single = try MopProcess.run(["prune", model, "--target", "0.3", "--out", directory + "/one", "--calibration",
                                         calibration, "--calibration-samples", "10", "--json"], timeout: 120)
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try PruneOutcome(single, directory: directory + "/one")
        try PruneOutcome(broadcast, directory: directory + "/broadcast").assertSameSearch(as: reference, "rank 2 without the file")

        // With 3 stages, rank 0 sends each stage its own blocks: rank 2 (the last stage) receives only those.
        let staged = try run("staged", ["--broadcast-weights", "--stages", "3"])
        XCTAssertEqual(staged.status, 0, staged.stderr)
        let outcome = try PruneOutcome(staged, directory: directory + "/staged")
        outcome.assertSameSearch(as: reference, "3 stages, rank 2 without the file")
        let weights = try ModelLoader.load(path: model).weights
        let parts = try PipelineLayout(stages: 3, ranks: 3, blocks: weights.config.layers.count).parts(weights.config)
        let pipeline = try XCTUnwrap(outcome.distribution["pipeline"] as? [String: Any])
        // Rank 0 keeps the model it read but holds its stage's part for the search.
        XCTAssertEqual(pipeline["weights_held_bytes"] as? [Int], parts.map { $0.bytesHeld(weights) })
        let header = try XCTUnwrap(outcome.distribution["weight_bytes_broadcast"] as? Int)
            - parts.reduce(0) { $0 + $1.tensors(of: weights).reduce(0) { $0 + 4 + $1.tensor.bytesHeld } }
        XCTAssertTrue(header > 0 && header < 64 * 1024, "every part's tensors once, and a header: \(header)")
    }

    func testAHostfileNamingAnUnreachableHostFailsAtOnceNamingIt() throws {
        let hostfile = directory + "/hosts"
        try Data("\(subnet).1 slots=1\n\(subnet).2 slots=1\n\(subnet).99 slots=1\n".utf8).write(to: URL(fileURLWithPath: hostfile))
        let start = Date()
        let run = try virtualMpirun([MopProcess.binary, "inspect", "/nonexistent"], hostfile: hostfile, timeout: 60)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        XCTAssertTrue(run.stderr.contains("connect to host \(subnet).99: No route to host"), run.stderr)
    }
}
