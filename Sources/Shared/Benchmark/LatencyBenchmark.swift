import Foundation

/// Generation latency by the paper's protocol: batch 1, a fixed prompt, a fixed number of new tokens decoded greedily
/// with the KV cache (never stopping at EOS, so every run does the same work), several runs of which the first are
/// warm-up and dropped; the mean (and median) of the rest.
///
/// A run is the prefill (the prompt in one pass, whose logits give the first new token) then `newTokens - 1` decode
/// steps, one token each, giving the others: the work of `generate(max_new_tokens: newTokens)`. Decode tokens/s
/// therefore counts the tokens the decode steps made (`newTokens - 1`).
public enum LatencyBenchmark {
    /// The wall time of one run, split at the end of the prefill.
    public struct Timing: Codable, Equatable, Sendable {
        public var prefillSeconds: Double
        public var decodeSeconds: Double
        public var totalSeconds: Double { prefillSeconds + decodeSeconds }

        enum CodingKeys: String, CodingKey {
            case prefillSeconds = "prefill_seconds"
            case decodeSeconds = "decode_seconds"
        }

        public init(prefillSeconds: Double, decodeSeconds: Double) {
            self.prefillSeconds = prefillSeconds
            self.decodeSeconds = decodeSeconds
        }
    }

    /// The numbers `mop bench` reports for one model (JSON: snake_case keys).
    public struct Result: Codable, Equatable, Sendable {
        /// Mean, median and extremes of a whole run's seconds (prefill + decode), over the runs after warm-up.
        public var latencySeconds: Double
        public var latencyMedianSeconds: Double
        public var latencyMinSeconds: Double
        public var latencyMaxSeconds: Double
        /// Each run's seconds after warm-up, in run order: what paired ratios between models are taken from.
        public var runSeconds: [Double]
        /// Prompt tokens / mean prefill seconds.
        public var prefillTokensPerSecond: Double
        /// Decode-step tokens (new tokens - 1) / mean decode seconds.
        public var decodeTokensPerSecond: Double
        /// VmHWM of the measuring process: its peak resident memory, weights included, and the pages of the model
        /// file read while loading it (so an F32 file costs more than a quantized one of the same model).
        public var peakRssBytes: Int
        public var runs: Int
        public var warmup: Int
        public var promptTokens: Int
        public var newTokens: Int
        public var threads: Int
        /// OpenBLAS's kernel family in the measuring process (`BLASKernel`).
        public var blasKernel: String
        /// The instruction set of mop's own kernels (`QuantKernels.isa`); nil in results written before it was kept.
        public var kernelIsa: String?

        enum CodingKeys: String, CodingKey {
            case runs, warmup, threads
            case blasKernel = "blas_kernel"
            case kernelIsa = "kernel_isa"
            case latencySeconds = "latency_seconds"
            case latencyMedianSeconds = "latency_median_seconds"
            case latencyMinSeconds = "latency_min_seconds"
            case latencyMaxSeconds = "latency_max_seconds"
            case runSeconds = "run_seconds"
            case prefillTokensPerSecond = "prefill_tokens_per_second"
            case decodeTokensPerSecond = "decode_tokens_per_second"
            case peakRssBytes = "peak_rss_bytes"
            case promptTokens = "prompt_tokens"
            case newTokens = "new_tokens"
        }

        public init(runSeconds: [Double], prefillTokensPerSecond: Double, decodeTokensPerSecond: Double,
                    peakRssBytes: Int, runs: Int, warmup: Int, promptTokens: Int, newTokens: Int, threads: Int) {
            self.runSeconds = runSeconds
            blasKernel = BLASKernel.coreName
            kernelIsa = QuantKernels.isa
            latencySeconds = LatencyBenchmark.mean(runSeconds)
            latencyMedianSeconds = LatencyBenchmark.median(runSeconds)
            latencyMinSeconds = runSeconds.min() ?? .nan
            latencyMaxSeconds = runSeconds.max() ?? .nan
            self.prefillTokensPerSecond = prefillTokensPerSecond
            self.decodeTokensPerSecond = decodeTokensPerSecond
            self.peakRssBytes = peakRssBytes
            self.runs = runs
            self.warmup = warmup
            self.promptTokens = promptTokens
            self.newTokens = newTokens
            self.threads = threads
        }
    }

    /// The protocol's settings; `validate` rejects those that leave nothing to measure.
    public struct Settings: Equatable, Sendable {
        public var runs = 20
        public var warmup = 10
        public var promptTokens = 12
        public var newTokens = 128

        public init(runs: Int = 20, warmup: Int = 10, promptTokens: Int = 12, newTokens: Int = 128) {
            self.runs = runs
            self.warmup = warmup
            self.promptTokens = promptTokens
            self.newTokens = newTokens
        }

        public func validate() throws {
            guard warmup >= 0 else { throw MopError("--warmup must be 0 or more, not \(warmup)") }
            guard runs > warmup else {
                throw MopError("--runs (\(runs)) must be more than --warmup (\(warmup)): no run would be measured")
            }
            guard promptTokens >= 1 else { throw MopError("--prompt-tokens must be at least 1, not \(promptTokens)") }
            // One decode step at least, so decode tokens/s is defined.
            guard newTokens >= 2 else { throw MopError("--new-tokens must be at least 2, not \(newTokens)") }
        }
    }

    /// The sentence whose tokens form the prompt when the model has a tokenizer: fixed, so runs and models compare.
    public static let promptText = "The quick brown fox jumps over the lazy dog, and then it runs far away into the "
        + "green hills where the old farmer keeps his sheep."

    /// `count` fixed prompt tokens: the first tokens of `promptText` (repeated if short) through `tokenizer`, or ids
    /// 0, 1, 2, ... (modulo the vocabulary) when there is none.
    public static func prompt(count: Int, tokenizer: (any Tokenizer)?, vocabSize: Int) -> [Int32] {
        if let tokenizer {
            let once = tokenizer.encode(promptText)
            if !once.isEmpty {
                return (0..<count).map { once[$0 % once.count] }
            }
        }
        return (0..<count).map { Int32($0 % vocabSize) }
    }

    /// Runs the protocol on `model` and summarizes it with this process's peak resident memory.
    public static func run(_ model: Transformer, prompt: [Int32], settings: Settings, file: String,
                           progress: ProgressReporter? = nil) throws -> Result {
        try checkFits(model, prompt: prompt, settings: settings, file: file)
        let generator = Generator(model: model)
        var timings: [Timing] = []
        for index in 0..<settings.runs {
            timings.append(measure(generator, prompt: prompt, newTokens: settings.newTokens))
            progress?.update(index + 1)
        }
        return try summarize(timings, settings: settings, threads: BLAS.threads, peakRSSBytes: peakRSS())
    }

    /// Throws unless the settings are valid and a run fits the model's positions.
    public static func checkFits(_ model: Transformer, prompt: [Int32], settings: Settings, file: String) throws {
        try settings.validate()
        let positions = model.positions
        // The last new token is never fed back, so the cache holds prompt + newTokens - 1 positions.
        guard prompt.count == settings.promptTokens, prompt.count + settings.newTokens - 1 <= positions else {
            throw MopError(file: file, "\(settings.promptTokens) prompt + \(settings.newTokens) new tokens do not fit "
                           + "the model's \(positions) positions")
        }
    }

    /// One run: prefill, then greedy decode steps until `newTokens` tokens exist, EOS or not.
    public static func measure(_ generator: Generator, prompt: [Int32], newTokens: Int) -> Timing {
        var cache = KVCache(config: generator.model.config)
        let start = DispatchTime.now().uptimeNanoseconds
        var token = TokenSampler.argmax(generator.step(prompt, cache: &cache))
        let prefilled = DispatchTime.now().uptimeNanoseconds
        for _ in 1..<newTokens {
            token = TokenSampler.argmax(generator.step([token], cache: &cache))
        }
        let end = DispatchTime.now().uptimeNanoseconds
        return Timing(prefillSeconds: Double(prefilled - start) / 1e9, decodeSeconds: Double(end - prefilled) / 1e9)
    }

    /// The statistics of `timings` after dropping the first `settings.warmup`.
    public static func summarize(_ timings: [Timing], settings: Settings, threads: Int, peakRSSBytes: Int) throws -> Result {
        guard timings.count == settings.runs else {
            throw MopError("\(timings.count) timings for \(settings.runs) runs")
        }
        try settings.validate()
        let kept = Array(timings.dropFirst(settings.warmup))
        let prefill = mean(kept.map(\.prefillSeconds)), decode = mean(kept.map(\.decodeSeconds))
        return Result(runSeconds: kept.map(\.totalSeconds), prefillTokensPerSecond: Double(settings.promptTokens) / prefill,
                      decodeTokensPerSecond: Double(settings.newTokens - 1) / decode,
                      peakRssBytes: peakRSSBytes, runs: settings.runs, warmup: settings.warmup,
                      promptTokens: settings.promptTokens, newTokens: settings.newTokens, threads: threads)
    }

    /// Arithmetic mean; NaN for no values.
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// The middle value, or the mean of the two middle values for an even count; NaN for no values.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// This process's peak resident memory in bytes, from /proc/self/status.
    public static func peakRSS(statusFile: String = "/proc/self/status") throws -> Int {
        try ProcessMemory.peak(statusFile: statusFile)
    }

    /// The `VmHWM:   123456 kB` line of a /proc status text, in bytes.
    public static func peakRSS(status: String, file: String) throws -> Int {
        try ProcessMemory.field("VmHWM", status: status, file: file)
    }
}
