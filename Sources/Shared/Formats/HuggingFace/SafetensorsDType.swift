/// The floating-point element types mop reads from and writes to safetensors files, under their header names.
/// Every conversion works on raw little-endian bytes (safetensors is little-endian, and so is every platform mop runs on).
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        }
    }

    /// The same encoding as a ggml tensor type (both little-endian).
    public var ggufType: GGUFTensorType {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        }
    }

    /// The type whose encoding is `ggufType`'s; nil for the ggml block quantizations, which safetensors cannot hold.
    public init?(ggufType: GGUFTensorType) {
        guard let match = Self.allCases.first(where: { $0.ggufType == ggufType }) else { return nil }
        self = match
    }

    /// The type a tensor of `shape` is written in when matrices are written in this one: 1-D tensors (norms, biases)
    /// stay F32, as `GGUFWriter.MatrixType.tensorTypes` keeps them, so both exports hold the same norms.
    public func forTensor(shape: [Int]) -> SafetensorsDType { shape.count > 1 ? self : .f32 }

    /// The `torch_dtype` name transformers uses for this type in config.json.
    public var torchName: String {
        switch self {
        case .f32: "float32"
        case .f16: "float16"
        case .bf16: "bfloat16"
        }
    }

    /// Decodes `output.count` elements from `raw` (which must hold exactly `output.count * size` bytes, at any alignment).
    public func decode(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(raw.count == output.count * size, "decode: \(raw.count) bytes for \(output.count) \(rawValue) elements")
        switch self {
        case .f32:
            UnsafeMutableRawBufferPointer(output).copyMemory(from: raw)
        case .f16:
            for i in 0..<output.count {
                output[i] = Self.halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<output.count {
                let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                output[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        }
    }

    /// Encodes `input` into `raw` (which must hold exactly `input.count * size` bytes), rounding to nearest even.
    public func encode(_ input: UnsafeBufferPointer<Float>, into raw: UnsafeMutableRawBufferPointer) {
        precondition(raw.count == input.count * size, "encode: \(raw.count) bytes for \(input.count) \(rawValue) elements")
        switch self {
        case .f32:
            raw.copyMemory(from: UnsafeRawBufferPointer(input))
        case .f16:
            for i in 0..<input.count {
                raw.storeBytes(of: Self.floatToHalf(input[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        case .bf16:
            for i in 0..<input.count {
                raw.storeBytes(of: Self.floatToBFloat16(input[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        }
    }

    /// IEEE binary16 bits to Float; exact for every input (subnormals, infinities and NaN payloads included).
    public static func halfToFloat(_ half: UInt16) -> Float {
        let sign = UInt32(half & 0x8000) << 16
        let exponent = UInt32(half >> 10) & 0x1F
        let mantissa = UInt32(half & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        // Rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// Float to IEEE binary16 bits, rounding to nearest even; overflow gives infinity, NaN stays NaN.
    public static func floatToHalf(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            // Keep NaN a (quiet) NaN even when its payload lives only in the low bits that are dropped.
            let nan: UInt16 = magnitude > 0x7F80_0000 ? 0x0200 | UInt16(truncatingIfNeeded: magnitude >> 13) & 0x3FF : 0
            return sign | 0x7C00 | nan
        }
        // 65520 is halfway between 65504 (largest half, odd mantissa) and 65536, so it and above round to infinity.
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }
        if magnitude < 0x3880_0000 {
            // Below 2^-14 the result is subnormal: scaling by 2^24 is exact, so one rounding gives the mantissa.
            let scaled = (Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)
        }
        // Rebias from 127 to 15 and round the 13 dropped bits; a mantissa carry correctly bumps the exponent.
        let rebiased = magnitude - (112 << 23)
        let rounded = rebiased + 0x0FFF + ((rebiased >> 13) & 1)
        return sign | UInt16(truncatingIfNeeded: rounded >> 13)
    }

    /// Float to bfloat16 bits (the top half of the Float), rounding to nearest even; NaN stays NaN.
    public static func floatToBFloat16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
    }
}
