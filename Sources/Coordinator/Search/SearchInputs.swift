import Foundation
import Shared

/// What a search ran on besides its settings: the model's weights and the calibration sequences. A checkpoint records
/// them, and `--resume` is refused when they differ, since a model of the same shapes with other weights, or other
/// calibration sequences, would continue the path on losses that do not belong to it.
public struct SearchInputs: Codable, Equatable, Sendable {
    /// `ModelChecksum` of the whole original model, 16 hex digits.
    public var modelChecksum: String
    /// `FileChecksum` of the calibration file, 16 hex digits.
    public var calibrationChecksum: String
    /// Calibration sequences asked for (`--calibration-samples`).
    public var calibrationSamples: Int
    /// Longest calibration sequence in tokens, as used (`--seq-len`, capped at the model's positions).
    public var seqLen: Int
    /// The seed the calibration rows were sampled with; nil when the first rows were taken.
    public var calibrationSeed: UInt64?

    enum CodingKeys: String, CodingKey {
        case modelChecksum = "model_checksum"
        case calibrationChecksum = "calibration_checksum"
        case calibrationSamples = "calibration_samples"
        case seqLen = "seq_len"
        case calibrationSeed = "calibration_seed"
    }

    public init(modelChecksum: String, calibrationChecksum: String, calibrationSamples: Int, seqLen: Int,
                calibrationSeed: UInt64?) {
        self.modelChecksum = modelChecksum
        self.calibrationChecksum = calibrationChecksum
        self.calibrationSamples = calibrationSamples
        self.seqLen = seqLen
        self.calibrationSeed = calibrationSeed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelChecksum = try c.decode(String.self, forKey: .modelChecksum)
        calibrationChecksum = try c.decode(String.self, forKey: .calibrationChecksum)
        calibrationSamples = try c.decode(Int.self, forKey: .calibrationSamples)
        seqLen = try c.decode(Int.self, forKey: .seqLen)
        // As PruneSettings reads its seed: Foundation reports a number that does not fit a UInt64 with no key.
        if c.contains(.calibrationSeed), try !c.decodeNil(forKey: .calibrationSeed) {
            guard let value = try? c.decode(UInt64.self, forKey: .calibrationSeed) else {
                throw DecodingError.dataCorruptedError(forKey: .calibrationSeed, in: c,
                                                       debugDescription: "must be an integer in 0...\(UInt64.max)")
            }
            calibrationSeed = value
        } else {
            calibrationSeed = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelChecksum, forKey: .modelChecksum)
        try c.encode(calibrationChecksum, forKey: .calibrationChecksum)
        try c.encode(calibrationSamples, forKey: .calibrationSamples)
        try c.encode(seqLen, forKey: .seqLen)
        try c.encodeIfPresent(calibrationSeed, forKey: .calibrationSeed)
    }

    /// Values no run can have; `file` names the checkpoint.
    func check(file: String) throws {
        for (name, value) in [("model_checksum", modelChecksum), ("calibration_checksum", calibrationChecksum)]
        where value.count != 16 || !value.allSatisfy(\.isHexDigit) {
            throw MopError(file: file, "inputs.\(name) \"\(value)\" is not 16 hex digits")
        }
        guard calibrationSamples >= 1 else { throw MopError(file: file, "inputs.calibration_samples \(calibrationSamples) is not positive") }
        guard seqLen >= 2 else { throw MopError(file: file, "inputs.seq_len \(seqLen) is less than 2") }
    }

    /// The inputs that differ between `self` and `other`, as `name: mine vs theirs`, for resume errors.
    func differences(from other: SearchInputs) -> [String] {
        var out: [String] = []
        func compare<T: Equatable>(_ name: String, _ a: T, _ b: T) { if a != b { out.append("\(name) \(a) vs \(b)") } }
        compare("model checksum", modelChecksum, other.modelChecksum)
        compare("calibration file checksum", calibrationChecksum, other.calibrationChecksum)
        compare("calibration_samples", calibrationSamples, other.calibrationSamples)
        compare("seq_len", seqLen, other.seqLen)
        compare("calibration_seed", calibrationSeed.map { "\($0)" } ?? "none", other.calibrationSeed.map { "\($0)" } ?? "none")
        return out
    }
}
