/// A 64-bit fingerprint of a model's fp32 weights and shape, for checking that every rank holds the same model
/// (a stale copy of the file on one node would otherwise silently mix two models' losses) and that `--resume`
/// continues on the model a checkpoint was written for. Not cryptographic: it catches accidents, not adversaries.
///
/// The value is the configuration's fingerprint combined with the wrapping sum of one digest per tensor (its name and
/// fp32 values). A sum does not depend on the order or grouping of its terms, so pipeline stages each add up the
/// digests of the tensors they write (every tensor has one writer, `ModelPart.writes`) and the sum of the stages'
/// sums gives the whole model's checksum, whatever the stage count, without any rank reading another stage's tensors.
/// The name in each digest keeps two tensors' values from trading places unseen.
public enum ModelChecksum {
    /// Of the tensors `part` holds (nil: all).
    public static func of(_ weights: ModelWeights, part: ModelPart? = nil) -> UInt64 {
        combine(weights.config, (part?.tensors(of: weights) ?? weights.namedTensors()).map { digest($0.name, $0.tensor) })
    }

    /// One tensor's term: its name and its fp32 values, read panel by panel, so a stored tensor is hashed by its
    /// values without a whole fp32 copy.
    public static func digest(_ name: String, _ tensor: Tensor) -> UInt64 {
        var state = Fingerprint()
        state.absorb(Array(name.utf8))
        tensor.forEachRowPanel(rows: tensor.panelRows()) { panel, _ in state.absorb(UnsafeRawBufferPointer(panel)) }
        return state.finish()
    }

    /// The checksum of a model with `config` whose tensors' digests (or sums of disjoint groups of them, such as
    /// stages' sums) are `terms`.
    public static func combine(_ config: ModelConfig, _ terms: [UInt64]) -> UInt64 {
        var state = Fingerprint()
        state.absorb(Array(String(describing: config).utf8))
        let sum = terms.reduce(0, &+)
        withUnsafeBytes(of: sum.littleEndian) { state.absorb($0) }
        return state.finish()
    }

    /// The fingerprint as 16 hex digits, as error messages and reports show it.
    public static func hex(_ value: UInt64) -> String { Fingerprint.hex(value) }
}
