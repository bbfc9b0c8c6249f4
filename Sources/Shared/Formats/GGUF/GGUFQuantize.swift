/// Turns fp32 values into ggml tensor bytes, the inverse of `GGUFDequantize` for the types mop writes: F32, F16 and
/// BF16 through `SafetensorsDType` (the same little-endian encodings, rounded to nearest even); Q8_0 exactly as
/// ggml's `quantize_row_q8_0_ref`; Q4_0, Q4_1, Q5_0, Q5_1 (`GGUFLegacyQuantize`) and Q4_K, Q5_K, Q6_K
/// (`GGUFKQuantize`) as ggml's reference encoders, or with an importance per column as its imatrix encoders: bytes
/// equal to llama-quantize's (`scripts/check-kquant.sh` compares whole models, GGUFBlockEncoderTests fixed blocks).
public enum GGUFQuantize {
    /// The types `encode` writes.
    public static let encodable: [GGUFTensorType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// Whether `encode` can write `type`.
    public static func supports(_ type: GGUFTensorType) -> Bool { encodable.contains(type) }

    /// Whether `type`'s encoder uses an importance (ggml's `quant_weights`): the float types and Q8_0 do not.
    public static func usesImportance(_ type: GGUFTensorType) -> Bool {
        supports(type) && type != .q8_0 && SafetensorsDType(ggufType: type) == nil
    }

    /// Encodes `input`, rows of `columns` values (whole blocks of `type`), as `type` into `raw`, which must hold
    /// exactly its bytes (`type.byteCount(elements:)`); `type` must be one `supports` admits. `importance`, one
    /// non-negative weight per column (an importance matrix's row), selects ggml's importance-weighted encoders as
    /// llama-quantize does with an imatrix; nil gives the reference encoders. A zero `columns` means one row.
    public static func encode(_ input: UnsafeBufferPointer<Float>, as type: GGUFTensorType, columns: Int = 0,
                              importance: [Float]? = nil, into raw: UnsafeMutableRawBufferPointer) {
        precondition(type.byteCount(elements: input.count) == raw.count, "encode: \(raw.count) bytes for \(input.count) \(type.name) elements")
        if let float = SafetensorsDType(ggufType: type) { return float.encode(input, into: raw) }
        guard let source = input.baseAddress, let target = raw.baseAddress else { return }
        let columns = columns > 0 ? columns : input.count
        precondition(input.count % columns == 0 && columns % type.blockSize == 0, "encode: \(input.count) values in rows of \(columns)")
        let weights = usesImportance(type) ? importance : nil
        precondition(weights == nil || weights!.count == columns, "encode: \(weights!.count) importances for rows of \(columns)")
        let rowBytes = columns / type.blockSize * type.blockBytes
        let x = SendablePointer(UnsafeMutablePointer(mutating: source)), y = SendablePointer(target.assumingMemoryBound(to: UInt8.self))
        // Rows are encoded independently, so splitting them over threads changes no byte.
        VectorMath.parallelRanges(input.count / columns, minimumWork: max(1, VectorMath.parallelElements / columns)) { rows in
            weights.withOptionalBuffer { importance in
                for row in rows {
                    encodeRow(x.pointer + row * columns, columns: columns, as: type, importance: importance, into: y.pointer + row * rowBytes)
                }
            }
        }
    }

    private static func encodeRow(_ x: UnsafePointer<Float>, columns: Int, as type: GGUFTensorType,
                                  importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer) {
        var rowMeanSquare: Float = 0
        if importance != nil, type.blockSize == 32 {
            for j in 0..<columns { rowMeanSquare += x[j] * x[j] }
            rowMeanSquare /= Float(columns)
        }
        for block in 0..<columns / type.blockSize {
            let first = block * type.blockSize
            let xb = x + first, yb = y + block * type.blockBytes, wb = importance.map { $0 + first }
            switch type {
            case .q8_0: q8_0(xb, into: yb)
            case .q4_0: legacy(LegacyBlock(bits: 4, hasMin: false), xb, importance: wb, rowMeanSquare: rowMeanSquare, into: yb)
            case .q4_1: legacy(LegacyBlock(bits: 4, hasMin: true), xb, importance: wb, rowMeanSquare: rowMeanSquare, into: yb)
            case .q5_0: legacy(LegacyBlock(bits: 5, hasMin: false), xb, importance: wb, rowMeanSquare: rowMeanSquare, into: yb)
            case .q5_1: legacy(LegacyBlock(bits: 5, hasMin: true), xb, importance: wb, rowMeanSquare: rowMeanSquare, into: yb)
            case .q4_K: scaleMinK(xb, nmax: 15, importance: wb, into: yb)
            case .q5_K: scaleMinK(xb, nmax: 31, importance: wb, into: yb)
            case .q6_K: q6_K(xb, importance: wb, into: yb)
            default: preconditionFailure("no encoder for \(type.name)")
            }
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

private extension Optional where Wrapped == [Float] {
    /// The array's storage for the call, or nil.
    func withOptionalBuffer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let self else { return body(nil) }
        return self.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
