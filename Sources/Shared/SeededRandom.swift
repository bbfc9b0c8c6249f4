/// SplitMix64: a small, fast, reproducible generator, so that seeds mean the same thing on every rank and platform.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    /// The whole generator state: `SeededRandom(seed: state)` continues the sequence exactly (checkpoints).
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale).
    public mutating func uniform(_ scale: Float) -> Float {
        Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) * scale
    }
}
