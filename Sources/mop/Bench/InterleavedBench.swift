import Foundation
import Shared

/// The latency of several model files measured in turn, run by run (A B A B ..., warm-up rounds too), each model in
/// its own child process: what `mop bench --compare` and `mop prune --eval` report, so that a change of load during
/// the measurement hits every model alike and the ratios to the first model stay put.
enum InterleavedBench {
    struct Outcome {
        /// Per model, in the order given: its statistics over the rounds after warm-up.
        let results: [LatencyBenchmark.Result]
        /// Per model after the first: its ratio to the first, from the paired rounds.
        let ratios: [LatencyRatio]
        /// Every run as scheduled, warm-up included.
        let runs: [InterleavedLatency.Run]
    }

    static func measure(_ paths: [String], settings: LatencyBenchmark.Settings, threads: Int?,
                        weights: WeightStorage = .stored) throws -> Outcome {
        try settings.validate()
        var children: [BenchChild] = []
        defer { children.forEach { $0.stop() } }
        // Every model is loaded before the first run, so no load competes with a measured run.
        for path in paths { children.append(try BenchChild(path, settings: settings, threads: threads, weights: weights)) }
        let names = paths.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
        let progress = ProgressReporter("bench (in turn: \(names))", total: settings.runs * paths.count, unit: "runs")
        var done = 0
        let (timings, runs) = try InterleavedLatency.schedule(rounds: settings.runs, models: paths.count) { model, _ in
            let timing = try children[model].run()
            done += 1
            progress.update(done)
            return timing
        }
        let summaries = try children.map { try $0.finish() }
        let results = try zip(timings, summaries).map {
            try LatencyBenchmark.summarize($0, settings: settings, threads: $1.threads, peakRSSBytes: $1.peakRssBytes)
        }
        let kept = timings.map { Array($0.dropFirst(settings.warmup)) }
        let ratios = kept.indices.dropFirst().map {
            LatencyRatio(kept[$0], peakRssBytes: results[$0].peakRssBytes, over: kept[0],
                         referencePeakRssBytes: results[0].peakRssBytes)
        }
        return Outcome(results: results, ratios: ratios, runs: runs)
    }
}
