/// One of `count` interleaved parts of the calibration set: sequence i (in the whole set's order) belongs to fold
/// i % count. A cross-fitted search (docs/design.md#cross-fitted-scoring) builds a candidate from the statistics of
/// every fold but one and scores it on that one's tokens, so the score measures the candidate on text its choice did
/// not see. Interleaving keeps the folds alike when the set is sorted (by source, or by length).
public struct CalibrationFold: Codable, Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(_ index: Int, of count: Int) {
        precondition(count >= 2 && (0..<count).contains(index), "fold \(index) of \(count)")
        self.index = index
        self.count = count
    }

    /// The `count` folds of a `count`-fold split, whose sums add up to the whole set's.
    public static func all(_ count: Int) -> [CalibrationFold] { (0..<count).map { CalibrationFold($0, of: count) } }

    /// The other folds of the split: the ones a candidate scored on this fold is built from.
    public var others: [CalibrationFold] { Self.all(count).filter { $0 != self } }

    /// Whether the sequence at `globalIndex` in the whole calibration set belongs to this fold.
    public func contains(_ globalIndex: Int) -> Bool { globalIndex % count == index }

    public var description: String { "fold \(index + 1) of \(count)" }

    // Decoding checks what the initializer's precondition checks: a request from another rank is input.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        index = try c.decode(Int.self, forKey: .index)
        count = try c.decode(Int.self, forKey: .count)
        guard count >= 2, (0..<count).contains(index) else {
            throw DecodingError.dataCorruptedError(forKey: .index, in: c, debugDescription: "fold \(index) of \(count)")
        }
    }
}
