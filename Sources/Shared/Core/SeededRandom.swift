/// SplitMix64: a small, fast, reproducible generator, so that seeds mean the same thing on every rank and platform.
public struct SeededRandom: RandomNumberGenerator, Equatable, Sendable {
    /// The whole generator state: `SeededRandom(seed: state)` continues the sequence exactly (checkpoints).
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// What the `index`-th call of `next()` (from 0) on `SeededRandom(seed: seed)` returns, without the calls before
    /// it: SplitMix64 is a counter passed through a mixer, so long streams can be drawn in parallel pieces.
    @inline(__always)
    public static func output(seed: UInt64, index: UInt64) -> UInt64 {
        mix(seed &+ (index &+ 1) &* increment)
    }

    static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    static func mix(_ state: UInt64) -> UInt64 {
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
