/// What a worker returns for its shard of a scoring job: float64 sums that reduce by addition over ranks,
/// so the total does not depend on how the work was split.
public struct PartialSums: Equatable, Sendable {
    public var negativeLogLikelihood: Double
    public var tokens: Double

    public init(negativeLogLikelihood: Double = 0, tokens: Double = 0) {
        self.negativeLogLikelihood = negativeLogLikelihood
        self.tokens = tokens
    }

    /// Flat form for a Communicator reduce.
    public var packed: [Double] { [negativeLogLikelihood, tokens] }

    public init(packed: [Double]) {
        self.init(negativeLogLikelihood: packed[0], tokens: packed[1])
    }
}
