/// A 64-bit fingerprint of a model's fp32 weights and shape, for checking that every rank holds the same model
/// (a stale copy of the file on one node would otherwise silently mix two models' losses). Not cryptographic: it
/// catches accidents, not adversaries.
public enum ModelChecksum {
    /// Of the tensors `part` holds (nil: all).
    public static func of(_ weights: ModelWeights, part: ModelPart? = nil) -> UInt64 {
        var state = Fingerprint()
        state.absorb(Array(String(describing: weights.config).utf8))
        for (_, tensor) in part?.tensors(of: weights) ?? weights.namedTensors() {
            // Panel by panel, so a stored model is hashed by its fp32 values without a whole fp32 copy.
            tensor.forEachRowPanel(rows: tensor.panelRows()) { panel, _ in state.absorb(UnsafeRawBufferPointer(panel)) }
        }
        return state.finish()
    }

    /// The fingerprint as 16 hex digits, as error messages and reports show it.
    public static func hex(_ value: UInt64) -> String { Fingerprint.hex(value) }
}
