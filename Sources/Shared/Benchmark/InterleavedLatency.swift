import Foundation

/// Latency of several models compared on a shared, noisy machine. The models run in turn, one run each per round
/// (A B A B ..., warm-up rounds too), so a change of load between rounds hits every model alike; the ratio of a model
/// to the first is the median over rounds of the two runs' ratio. Timing each model's runs in one block instead lets
/// a load change between the blocks flip the ratio: a pruned model measured 39% slower than its dense original that
/// way, where the idle machine gives 18% faster.
public enum InterleavedLatency {
    /// One run as the driver scheduled it: which model, which round, and its wall-clock interval in seconds from the
    /// start of the schedule (the measuring process's own timing of the run lies inside it).
    public struct Run: Codable, Equatable, Sendable {
        public var model: Int
        public var round: Int
        public var started: Double
        public var ended: Double

        public init(model: Int, round: Int, started: Double, ended: Double) {
            self.model = model
            self.round = round
            self.started = started
            self.ended = ended
        }
    }

    /// The ratio of one quantity between two models over paired rounds: the median of the per-round ratios, and
    /// their smallest and largest as the spread.
    public struct PairedRatio: Codable, Equatable, Sendable {
        public var median: Double
        public var min: Double
        public var max: Double
        public var pairs: Int

        /// `values[i] / reference[i]` for every round i both have.
        public init(_ values: [Double], over reference: [Double]) {
            let ratios = zip(values, reference).map { $0 / $1 }
            median = LatencyBenchmark.median(ratios)
            min = ratios.min() ?? .nan
            max = ratios.max() ?? .nan
            pairs = ratios.count
        }
    }

    /// `rounds` rounds, each running model 0, 1, ..., models - 1 once through `run(model, round)`; `clock` gives
    /// seconds (monotonic). Returns every model's timings in round order and the schedule as it happened.
    public static func schedule(rounds: Int, models: Int, clock: () -> Double = monotonicSeconds,
                                run: (_ model: Int, _ round: Int) throws -> LatencyBenchmark.Timing)
        rethrows -> (timings: [[LatencyBenchmark.Timing]], runs: [Run]) {
        var timings = [[LatencyBenchmark.Timing]](repeating: [], count: models)
        var runs: [Run] = []
        let start = clock()
        for round in 0..<rounds {
            for model in 0..<models {
                let started = clock() - start
                timings[model].append(try run(model, round))
                runs.append(Run(model: model, round: round, started: started, ended: clock() - start))
            }
        }
        return (timings, runs)
    }

    /// Seconds on the monotonic clock.
    public static func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

/// A model's latency against the first model's from interleaved runs (JSON: snake_case keys): every figure is the
/// median of the per-round ratios after warm-up, with the latency ratio's spread; peak memory is a plain ratio of
/// the two processes' VmHWM. Below 1 in latency means the model is faster than the first.
public struct LatencyRatio: Codable, Equatable, Sendable {
    public var latencySeconds: Double
    public var latencySecondsMin: Double
    public var latencySecondsMax: Double
    public var prefillTokensPerSecond: Double
    public var decodeTokensPerSecond: Double
    public var peakRssBytes: Double
    /// Rounds the medians are taken over.
    public var pairs: Int

    enum CodingKeys: String, CodingKey {
        case pairs
        case latencySeconds = "latency_seconds"
        case latencySecondsMin = "latency_seconds_min"
        case latencySecondsMax = "latency_seconds_max"
        case prefillTokensPerSecond = "prefill_tokens_per_second"
        case decodeTokensPerSecond = "decode_tokens_per_second"
        case peakRssBytes = "peak_rss_bytes"
    }

    /// `timings` and `reference` are the two models' runs after warm-up, round by round.
    public init(_ timings: [LatencyBenchmark.Timing], peakRssBytes: Int, over reference: [LatencyBenchmark.Timing],
                referencePeakRssBytes: Int) {
        let latency = InterleavedLatency.PairedRatio(timings.map(\.totalSeconds), over: reference.map(\.totalSeconds))
        latencySeconds = latency.median
        latencySecondsMin = latency.min
        latencySecondsMax = latency.max
        pairs = latency.pairs
        // A speed ratio is the inverse time ratio: the reference's seconds over this model's.
        prefillTokensPerSecond = InterleavedLatency.PairedRatio(reference.map(\.prefillSeconds), over: timings.map(\.prefillSeconds)).median
        decodeTokensPerSecond = InterleavedLatency.PairedRatio(reference.map(\.decodeSeconds), over: timings.map(\.decodeSeconds)).median
        self.peakRssBytes = Double(peakRssBytes) / Double(referencePeakRssBytes)
    }
}
