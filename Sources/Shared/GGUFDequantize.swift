/// Turns ggml tensor bytes into Float exactly as ggml's `dequantize_row_*` does.
///
/// Block layouts (little-endian, 32 elements per quantized block):
/// - Q8_0: f16 scale d, 32 x int8 q;            x = q * d
/// - Q4_0: f16 d, 16 bytes of nibbles;           x = (nibble - 8) * d
/// - Q4_1: f16 d, f16 min m, 16 bytes of nibbles; x = nibble * d + m
/// In both 4-bit types byte j holds element j in its low nibble and element j + 16 in its high nibble.
public enum GGUFDequantize {
    /// Dequantizes `count` elements of `type` from `raw`, which must hold exactly their bytes.
    /// `file` names the source in errors (unsupported type, wrong byte count).
    public static func dequantize(_ raw: UnsafeRawBufferPointer, type: GGUFTensorType, count: Int,
                                  file: String) throws -> [Float] {
        guard type.isDequantizable else {
            throw MopError(file: file, "tensor type \(type.name) is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)")
        }
        guard let bytes = type.byteCount(elements: count), bytes == raw.count else {
            throw MopError(file: file, "\(raw.count) bytes do not hold \(count) elements of type \(type.name)")
        }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch type {
            case .f32: f32(raw, out)
            case .f16: f16(raw, out)
            case .bf16: bf16(raw, out)
            case .q8_0: q8_0(raw, out)
            case .q4_0: q4(raw, out, hasMin: false)
            case .q4_1: q4(raw, out, hasMin: true)
            default: break  // excluded by isDequantizable above
            }
            initialized = count
        }
    }

    /// The f16 (IEEE half) at `offset`, widened exactly.
    @inline(__always)
    static func half(_ raw: UnsafeRawBufferPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }

    private static func f32(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count {
            out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
    }

    private static func f16(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count { out[i] = half(raw, 2 * i) }
    }

    /// BF16 is the top half of an f32.
    private static func bf16(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count {
            let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            out[i] = Float(bitPattern: UInt32(bits) << 16)
        }
    }

    private static func q8_0(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>) {
        let blockBytes = GGUFTensorType.q8_0.blockBytes
        for block in 0..<out.count / 32 {
            let base = block * blockBytes
            let d = half(raw, base)
            let outBase = block * 32
            for j in 0..<32 {
                out[outBase + j] = Float(Int8(bitPattern: raw[base + 2 + j])) * d
            }
        }
    }

    /// Q4_0 (`hasMin` false: offset -8, no min) and Q4_1 (`hasMin` true: a stored min, no offset).
    private static func q4(_ raw: UnsafeRawBufferPointer, _ out: UnsafeMutableBufferPointer<Float>, hasMin: Bool) {
        let type: GGUFTensorType = hasMin ? .q4_1 : .q4_0
        let blockBytes = type.blockBytes
        let quantsAt = hasMin ? 4 : 2
        for block in 0..<out.count / 32 {
            let base = block * blockBytes
            let d = half(raw, base)
            let m: Float = hasMin ? half(raw, base + 2) : 0
            let shift: Int = hasMin ? 0 : -8
            let outBase = block * 32
            for j in 0..<16 {
                let byte = raw[base + quantsAt + j]
                let low = Float(Int(byte & 0x0F) + shift)
                let high = Float(Int(byte >> 4) + shift)
                // Q4_0 has no min term at all: adding 0 would turn -0.0 into +0.0, unlike ggml.
                out[outBase + j] = hasMin ? low * d + m : low * d
                out[outBase + j + 16] = hasMin ? high * d + m : high * d
            }
        }
    }
}
