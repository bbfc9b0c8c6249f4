/// Turns fp32 values into ggml tensor bytes, the inverse of `GGUFDequantize` for the types mop writes: F32, F16 and
/// BF16 through `SafetensorsDType` (the same little-endian encodings, rounded to nearest even), and Q8_0 exactly as
/// ggml's `quantize_row_q8_0_ref` (what llama-quantize and gguf-py's `quants.quantize` give, bit for bit:
/// `scripts/check-quantize.py` compares them on a real tensor).
public enum GGUFQuantize {
    /// Whether `encode` can write `type`.
    public static func supports(_ type: GGUFTensorType) -> Bool {
        type == .q8_0 || SafetensorsDType(ggufType: type) != nil
    }

    /// Encodes `input` as `type` into `raw`, which must hold exactly its bytes (`type.byteCount(elements:)`, so
    /// `input.count` is whole blocks); `type` must be one `supports` admits.
    public static func encode(_ input: UnsafeBufferPointer<Float>, as type: GGUFTensorType, into raw: UnsafeMutableRawBufferPointer) {
        precondition(type.byteCount(elements: input.count) == raw.count, "encode: \(raw.count) bytes for \(input.count) \(type.name) elements")
        if let float = SafetensorsDType(ggufType: type) { return float.encode(input, into: raw) }
        precondition(type == .q8_0, "no encoder for \(type.name)")
        guard let source = input.baseAddress, let target = raw.baseAddress else { return }
        for block in 0..<input.count / 32 {
            q8_0(source + 32 * block, into: target + 34 * block)
        }
    }

    /// One Q8_0 block, 34 bytes: `struct block_q8_0 { ggml_half d; int8_t qs[32]; }` with d = amax / 127 and
    /// q = roundf(x * (1 / d)), in the same Float operations as ggml (multiplying by the reciprocal, not dividing, and
    /// rounding halves away from zero), so the bytes are ggml's.
    static func q8_0(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 {
            let a = abs(x[j])
            amax = amax > a ? amax : a  // ggml's MAX(amax, fabsf(v)), which Swift's max orders differently for NaN
        }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: SafetensorsDType.floatToHalf(d).littleEndian, as: UInt16.self)
        for j in 0..<32 {
            y.storeBytes(of: int8(roundingAwayFromZero: x[j] * id), toByteOffset: 2 + j, as: Int8.self)
        }
    }

    /// ggml's `(int8_t)roundf(v)` as x86-64 computes it: through a 32-bit integer, where a value out of range (or NaN)
    /// becomes INT32_MIN, then its low byte. Finite weights give |v| <= 127 and the plain conversion; only a block whose
    /// largest magnitude is below about 2^-120 (so 1 / d overflows, and d is stored as fp16 zero anyway) reaches the
    /// other cases, which must give ggml's bytes instead of trapping.
    @inline(__always)
    static func int8(roundingAwayFromZero v: Float) -> Int8 {
        let rounded = v.rounded(.toNearestOrAwayFromZero)
        let wide = rounded >= -0x1p31 && rounded < 0x1p31 ? Int32(rounded) : Int32.min
        return Int8(truncatingIfNeeded: wide)
    }
}
