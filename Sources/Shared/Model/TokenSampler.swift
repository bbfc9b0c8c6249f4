import Foundation

/// Picks the next token from logits: greedy at temperature 0, otherwise a seeded draw from the softmax at that
/// temperature restricted to the nucleus (the fewest most likely tokens whose probability reaches top-p).
public struct TokenSampler: Sendable {
    public let temperature: Float
    public let topP: Float
    private var random: SeededRandom

    /// temperature >= 0 (0 = greedy); topP in (0, 1].
    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        precondition(temperature >= 0 && topP > 0 && topP <= 1)
        self.temperature = temperature
        self.topP = topP
        random = SeededRandom(seed: seed)
    }

    /// The first index of the largest logit.
    public static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    /// The probabilities the draw is made from: softmax(logits / temperature) in float64, cut to the nucleus and
    /// renormalized, as (token, probability), most likely first.
    public func distribution(_ logits: [Float]) -> [(token: Int32, probability: Double)] {
        let scaled = logits.map { Double($0) / Double(temperature) }
        let shift = scaled.max() ?? 0
        let weights = scaled.map { exp($0 - shift) }
        let total = weights.reduce(0, +)
        let ranked = weights.indices.sorted { weights[$0] > weights[$1] || (weights[$0] == weights[$1] && $0 < $1) }
        var kept: [(token: Int32, probability: Double)] = [], mass = 0.0
        for index in ranked {
            kept.append((Int32(index), weights[index] / total))
            mass += weights[index] / total
            if mass >= Double(topP) { break }
        }
        return kept.map { ($0.token, $0.probability / mass) }
    }

    /// The next token.
    public mutating func sample(_ logits: [Float]) -> Int32 {
        guard temperature > 0 else { return Self.argmax(logits) }
        let candidates = distribution(logits)
        var u = Double(random.next() >> 11) / Double(1 << 53)
        for candidate in candidates {
            u -= candidate.probability
            if u < 0 { return candidate.token }
        }
        return candidates[candidates.count - 1].token  // rounding left u a hair above the total
    }
}
