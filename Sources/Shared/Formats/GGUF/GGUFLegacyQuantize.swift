/// The 32-element block encoders Q4_0, Q4_1, Q5_0 and Q5_1 (layouts: `GGUFDequantize`), bytes equal to ggml's:
/// without importance `quantize_row_q4_0_ref` and friends (min/max scaling, what llama-quantize writes without an
/// imatrix); with importance `quantize_row_q4_0_impl` and friends, whose scale search weights each element by its
/// column's importance times sqrt(σ² + x²), σ² the mean square of the whole row.
extension GGUFQuantize {
    /// Which of the four: 4 or 5 bits, symmetric (`_0`: x = d (q - 2^(bits-1))) or with a min (`_1`: x = d q + m).
    struct LegacyBlock {
        let bits: Int
        let hasMin: Bool

        var nmax: Int32 { bits == 4 ? 15 : 31 }
        /// Offset of the quant nibbles: after d (and m), and for 5 bits the 4 bytes of fifth bits.
        var quantsOffset: Int { (hasMin ? 4 : 2) + (bits == 5 ? 4 : 0) }
    }

    /// One block of `x[0..<32]` into `y`. `importance` is nil (the reference encoder) or these columns' 32 weights,
    /// with `rowMeanSquare` the σ² of the row.
    static func legacy(_ block: LegacyBlock, _ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, rowMeanSquare: Float,
                       into y: UnsafeMutableRawPointer) {
        var quants = [UInt8](repeating: 0, count: 32)
        if let importance {
            var weights = [Float](repeating: 0, count: 32)
            for j in 0..<32 { weights[j] = importance[j] * (rowMeanSquare + x[j] * x[j]).squareRoot() }
            if block.hasMin {
                var laux = [UInt8](repeating: 0, count: 32), min: Float = 0
                let d = GGUFScaleSearch.scaleAndMin(.qkx3, 32, block.nmax, x, weights, &quants, &min, &laux, rmin: -0.9, rdelta: 0.05, nstep: 36)
                y.storeBytes(of: SafetensorsDType.floatToHalf(d).littleEndian, as: UInt16.self)
                y.storeBytes(of: SafetensorsDType.floatToHalf(-min).littleEndian, toByteOffset: 2, as: UInt16.self)
            } else {
                var signed = [Int8](repeating: 0, count: 32)
                let d = GGUFScaleSearch.symmetric(32, (block.nmax + 1) / 2, x, &signed, weights: weights)
                for j in 0..<32 { quants[j] = UInt8(bitPattern: signed[j]) }
                y.storeBytes(of: SafetensorsDType.floatToHalf(d).littleEndian, as: UInt16.self)
            }
        } else if block.hasMin {
            var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
            for j in 0..<32 {
                if x[j] < min { min = x[j] }
                if x[j] > max { max = x[j] }
            }
            let d = (max - min) / Float(block.nmax)
            let id: Float = d != 0 ? 1 / d : 0
            y.storeBytes(of: SafetensorsDType.floatToHalf(d).littleEndian, as: UInt16.self)
            y.storeBytes(of: SafetensorsDType.floatToHalf(min).littleEndian, toByteOffset: 2, as: UInt16.self)
            for j in 0..<32 {
                // Q4_1 clamps to 15 through int8_t; Q5_1 converts to uint8_t unclamped (its largest value is 31.5).
                let v = truncated((x[j] - min) * id + 0.5)
                quants[j] = block.bits == 4 ? UInt8(Swift.min(15, Int(Int8(truncatingIfNeeded: v)))) : UInt8(truncatingIfNeeded: v)
            }
        } else {
            var amax: Float = 0, max: Float = 0
            for j in 0..<32 where amax < abs(x[j]) {
                amax = abs(x[j])
                max = x[j]
            }
            let half = Float((block.nmax + 1) / 2)
            let d = max / -half
            let id: Float = d != 0 ? 1 / d : 0
            y.storeBytes(of: SafetensorsDType.floatToHalf(d).littleEndian, as: UInt16.self)
            for j in 0..<32 {
                let v = Int(Int8(truncatingIfNeeded: truncated(x[j] * id + (half + 0.5))))
                quants[j] = UInt8(truncatingIfNeeded: Swift.min(Int(block.nmax), v))
            }
        }
        if block.bits == 5 {
            var high: UInt32 = 0
            for j in 0..<32 { high |= UInt32((quants[j] & 0x10) >> 4) << UInt32(j) }
            y.storeBytes(of: high.littleEndian, toByteOffset: block.quantsOffset - 4, as: UInt32.self)
        }
        for j in 0..<16 {
            y.storeBytes(of: (quants[j] & 0x0F) | (quants[j + 16] & 0x0F) << 4, toByteOffset: block.quantsOffset + j, as: UInt8.self)
        }
    }

    /// C's float-to-integer conversion as x86-64 does it (cvttss2si): toward zero through a 32-bit integer, a value out
    /// of range or NaN giving INT32_MIN; the callers then keep the low byte, as C's conversion to (u)int8_t does.
    @inline(__always)
    static func truncated(_ v: Float) -> Int32 {
        v > -0x1p31 - 1 && v < 0x1p31 ? Int32(v.rounded(.towardZero)) : Int32.min
    }
}
