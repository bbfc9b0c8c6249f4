import Foundation

/// Accuracy counts of a task, float64 so that shards reduce by addition over ranks.
public struct ZeroShotCounts: Equatable, Sendable {
    public var correct: Double
    public var correctNormalized: Double
    public var examples: Double

    public init(correct: Double = 0, correctNormalized: Double = 0, examples: Double = 0) {
        self.correct = correct
        self.correctNormalized = correctNormalized
        self.examples = examples
    }

    /// Adds one example's outcome.
    public mutating func add(_ outcome: ZeroShotMetrics.Outcome) {
        correct += outcome.correct ? 1 : 0
        correctNormalized += outcome.correctNormalized ? 1 : 0
        examples += 1
    }

    /// Flat form for a Communicator reduce, `packedCount` values.
    public var packed: [Double] { [correct, correctNormalized, examples] }
    public static let packedCount = 3

    public init(packed: ArraySlice<Double>) {
        let values = Array(packed)
        self.init(correct: values[0], correctNormalized: values[1], examples: values[2])
    }
}

/// acc, acc_norm and their standard errors, as lm-evaluation-harness reports them.
public struct ZeroShotResult: Equatable, Sendable, Codable {
    public let acc: Double
    public let accNorm: Double
    public let accStderr: Double
    public let accNormStderr: Double
    public let n: Int

    public init(acc: Double, accNorm: Double, accStderr: Double, accNormStderr: Double, n: Int) {
        self.acc = acc
        self.accNorm = accNorm
        self.accStderr = accStderr
        self.accNormStderr = accNormStderr
        self.n = n
    }

    enum CodingKeys: String, CodingKey {
        case acc, n
        case accNorm = "acc_norm"
        case accStderr = "acc_stderr"
        case accNormStderr = "acc_norm_stderr"
    }
}

/// lm-evaluation-harness's multiple-choice metrics.
public enum ZeroShotMetrics {
    /// The mean of acc and of acc_norm over tasks (each task weighs the same, as lm-eval's task average).
    public struct Average: Codable, Equatable, Sendable {
        public let acc: Double
        public let accNorm: Double

        enum CodingKeys: String, CodingKey {
            case acc
            case accNorm = "acc_norm"
        }
    }

    /// The task average of `results`; nil when there are none.
    public static func average(_ results: some Collection<ZeroShotResult>) -> Average? {
        guard !results.isEmpty else { return nil }
        let n = Double(results.count)
        return Average(acc: results.map(\.acc).reduce(0, +) / n, accNorm: results.map(\.accNorm).reduce(0, +) / n)
    }

    /// Whether the argmax of the log-likelihoods, and of the log-likelihoods per character, is the gold choice.
    public struct Outcome: Equatable, Sendable {
        public let correct: Bool
        public let correctNormalized: Bool
    }

    /// One example's outcome. Ties go to the first choice, as `np.argmax` breaks them.
    public static func outcome(logLikelihoods: [Double], lengths: [Int], gold: Int) -> Outcome {
        precondition(logLikelihoods.count == lengths.count && logLikelihoods.indices.contains(gold))
        let normalized = zip(logLikelihoods, lengths).map { $0 / Double(max($1, 1)) }
        return Outcome(correct: argmax(logLikelihoods) == gold, correctNormalized: argmax(normalized) == gold)
    }

    /// The first index of the largest value.
    static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    /// Means and standard errors of the counts. lm-eval's `mean_stderr` is the sample standard deviation over
    /// sqrt(n), which for 0/1 scores is sqrt(p (1 - p) / (n - 1)); it is undefined for n < 2 and reported as 0.
    public static func result(_ counts: ZeroShotCounts) -> ZeroShotResult {
        let n = counts.examples
        let acc = n > 0 ? counts.correct / n : 0, accNorm = n > 0 ? counts.correctNormalized / n : 0
        func stderr(_ p: Double) -> Double { n > 1 ? (p * (1 - p) / (n - 1)).squareRoot() : 0 }
        return ZeroShotResult(acc: acc, accNorm: accNorm, accStderr: stderr(acc), accNormStderr: stderr(accNorm), n: Int(n))
    }
}
