import XCTest
@testable import Shared

/// Kept activations give the recomputed step's loss and gradients, and `auto` keeps only what fits.
final class ActivationMemoryTests: XCTestCase {
    func testKeptAndRecomputedActivationsGiveTheSameGradients() throws {
        for (name, config) in TinyConfigs.all {
            let c = ModelBackwardTests.makeCase(config, seed: 80)
            let dropout = LoRAAdapters(config: LoRAConfig(rank: 2, alpha: 3, dropout: 0.2), layout: c.adapters.layout,
                                   parameters: c.adapters.parameters)
            for (adapters, seed) in [(c.adapters, nil), (dropout, UInt64(7))] as [(LoRAAdapters, UInt64?)] {
                func step(_ activations: ActivationMemory) throws -> LoRATrainer.Result {
                    try LoRATrainer.lossAndGradients(model: c.model, adapters: adapters, batch: c.batch, lossMask: c.mask,
                                                     dropoutSeed: seed, inputGradient: true, activations: activations)
                }
                let recomputed = try step(.recompute)
                XCTAssertGreaterThan(recomputed.gradients.values.map(abs).max() ?? 0, 1e-3, name)
                for result in [try step(.keep), try step(.auto)] {
                    XCTAssertEqual(result.loss, recomputed.loss, accuracy: 1e-6 * recomputed.loss, name)
                    XCTAssertLessThan(relativeError(result.gradients.values, recomputed.gradients.values.map(Double.init)), 1e-5,
                                      "\(name) dropout \(seed != nil)")
                    XCTAssertLessThan(relativeError(result.inputGradient!, recomputed.inputGradient!.map(Double.init)), 1e-5, name)
                }
            }
        }
    }

    func testAutoKeepsWhatFitsInHalfTheAvailableMemory() {
        XCTAssertTrue(ActivationMemory.auto.keeps(blockBytes: 10, blocks: 5, available: 100))
        XCTAssertFalse(ActivationMemory.auto.keeps(blockBytes: 10, blocks: 6, available: 100))
        XCTAssertFalse(ActivationMemory.auto.keeps(blockBytes: Int.max / 2, blocks: 3, available: Int.max))
        XCTAssertTrue(ActivationMemory.keep.keeps(blockBytes: 1 << 40, blocks: 100, available: 0))
        XCTAssertFalse(ActivationMemory.recompute.keeps(blockBytes: 1, blocks: 1, available: 1 << 40))
    }

    /// MemAvailable, capped by the headroom of the process's memory cgroup (v1 or v2) when it has a limit.
    func testAvailableMemoryReadsMeminfoAndTheCgroupLimit() throws {
        let root = NSTemporaryDirectory() + "/mop-available-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(atPath: root + (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: root + path, atomically: true, encoding: .utf8)
        }
        XCTAssertNil(AvailableMemory.bytes(root: root))
        try write("/proc/meminfo", "MemTotal:       24000000 kB\nMemAvailable:    2000000 kB\n")
        try write("/proc/self/cgroup", "4:memory:/job\n0::/\n")
        XCTAssertEqual(AvailableMemory.bytes(root: root), 2_000_000 * 1024)
        try write("/sys/fs/cgroup/memory/job/memory.limit_in_bytes", "9223372036854771712\n")
        try write("/sys/fs/cgroup/memory/job/memory.usage_in_bytes", "1000\n")
        XCTAssertEqual(AvailableMemory.bytes(root: root), 2_000_000 * 1024, "v1 without a limit")
        try write("/sys/fs/cgroup/memory/job/memory.limit_in_bytes", "500000000\n")
        XCTAssertEqual(AvailableMemory.bytes(root: root), 500_000_000 - 1000)
        try write("/proc/self/cgroup", "0::/box\n")
        try write("/sys/fs/cgroup/box/memory.max", "max\n")
        try write("/sys/fs/cgroup/box/memory.current", "7\n")
        XCTAssertEqual(AvailableMemory.bytes(root: root), 2_000_000 * 1024, "v2 without a limit")
        try write("/sys/fs/cgroup/box/memory.max", "300000000\n")
        XCTAssertEqual(AvailableMemory.bytes(root: root), 300_000_000 - 7)
    }
}
