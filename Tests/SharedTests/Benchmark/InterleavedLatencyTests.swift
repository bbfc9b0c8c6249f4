import XCTest
@testable import Shared

/// The interleaved schedule and the paired ratios, on simulated machines whose load changes mid-measurement.
final class InterleavedLatencyTests: XCTestCase {
    typealias Timing = LatencyBenchmark.Timing

    /// A simulated machine: model m's run in round r takes `base[m] * load(r)` seconds, half prefill, half decode,
    /// advancing a fake clock by as much.
    final class Machine {
        var now = 100.0
        let base: [Double]
        let load: (Int) -> Double
        var calls: [(model: Int, round: Int)] = []

        init(base: [Double], load: @escaping (Int) -> Double) {
            self.base = base
            self.load = load
        }

        func run(_ model: Int, _ round: Int) -> Timing {
            calls.append((model, round))
            let seconds = base[model] * load(round)
            now += seconds
            return Timing(prefillSeconds: seconds / 2, decodeSeconds: seconds / 2)
        }
    }

    func testModelsRunInTurnAndTheScheduleRecordsIt() {
        let machine = Machine(base: [2, 1, 3]) { _ in 1 }
        let (timings, runs) = InterleavedLatency.schedule(rounds: 4, models: 3, clock: { machine.now }, run: machine.run)
        XCTAssertEqual(machine.calls.map(\.model), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
        XCTAssertEqual(machine.calls.map(\.round), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
        XCTAssertEqual(runs.map(\.model), machine.calls.map(\.model))
        XCTAssertEqual(timings.map(\.count), [4, 4, 4])
        XCTAssertEqual(timings[2][1].totalSeconds, 3)
        // Intervals from the schedule's start, back to back: 0-2, 2-3, 3-6, 6-8, ...
        XCTAssertEqual(runs[0].started, 0)
        XCTAssertEqual(runs[0].ended, 2)
        XCTAssertEqual(runs[2].started, 3)
        XCTAssertEqual(runs[2].ended, 6)
        for (earlier, later) in zip(runs, runs.dropFirst()) { XCTAssertEqual(earlier.ended, later.started) }
    }

    func testALoadChangeHalfWayLeavesThePairedRatioAlone() {
        // The second model is 0.8 of the first; from round 10 on, the machine is 1.8x slower (another job started).
        let machine = Machine(base: [5, 4]) { $0 < 10 ? 1 : 1.8 }
        let (timings, _) = InterleavedLatency.schedule(rounds: 20, models: 2, clock: { machine.now }, run: machine.run)
        let kept = timings.map { Array($0.dropFirst(5)) }
        let ratio = LatencyRatio(kept[1], peakRssBytes: 100, over: kept[0], referencePeakRssBytes: 200)
        XCTAssertEqual(ratio.latencySeconds, 0.8, accuracy: 1e-12)
        XCTAssertEqual(ratio.latencySecondsMin, 0.8, accuracy: 1e-12)
        XCTAssertEqual(ratio.latencySecondsMax, 0.8, accuracy: 1e-12)
        XCTAssertEqual(ratio.decodeTokensPerSecond, 1.25, accuracy: 1e-12, "speed is the inverse of time")
        XCTAssertEqual(ratio.prefillTokensPerSecond, 1.25, accuracy: 1e-12)
        XCTAssertEqual(ratio.peakRssBytes, 0.5)
        XCTAssertEqual(ratio.pairs, 15)

        // The same load change between two blocks of runs, one model after the other, makes the faster model slower.
        let blocks = Machine(base: [5, 4]) { $0 < 20 ? 1 : 1.8 }
        let first = (0..<20).map { blocks.run(0, $0) }, second = (20..<40).map { blocks.run(1, $0) }
        let mean = { (runs: [Timing]) in LatencyBenchmark.mean(runs.dropFirst(5).map(\.totalSeconds)) }
        XCTAssertEqual(mean(second) / mean(first), 1.44, accuracy: 1e-12)
    }

    func testPairedRatioIsTheMedianOfPerRoundRatios() {
        // A spike in one round of the second model moves the ratio of means but not the median of the pairs.
        let reference = [2.0, 2, 2, 2, 2], values = [1.0, 1.2, 1.6, 1.4, 9]
        let paired = InterleavedLatency.PairedRatio(values, over: reference)
        XCTAssertEqual(paired.median, 0.7, accuracy: 1e-12)
        XCTAssertEqual(paired.min, 0.5, accuracy: 1e-12)
        XCTAssertEqual(paired.max, 4.5, accuracy: 1e-12)
        XCTAssertEqual(paired.pairs, 5)
        XCTAssertEqual(LatencyBenchmark.mean(values) / LatencyBenchmark.mean(reference), 1.42, accuracy: 1e-12)
        let even = InterleavedLatency.PairedRatio([1, 3], over: [2, 2])
        XCTAssertEqual(even.median, 1, accuracy: 1e-12)
        XCTAssertTrue(InterleavedLatency.PairedRatio([], over: []).median.isNaN)
    }
}
