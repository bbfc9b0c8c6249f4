/// The K-quants: 256-element super-blocks split into sub-blocks of 16 or 32 elements, each with its own small scale
/// (and, for Q2_K, Q4_K and Q5_K, min) stored in few bits and multiplied by the super-block's f16 `d` (and `dmin`).
/// Layouts are llama.cpp's `block_q*_K` structs (ggml-common.h) with QK_K = 256. The arithmetic keeps ggml's order:
/// the sub-block scale d * sc is rounded to Float first, then multiplied by the quant, then the min term subtracted.
extension GGUFDequantize {
    /// Q2_K, 84 bytes:
    ///
    ///     struct block_q2_K {
    ///         uint8_t scales[16]; // per 16 elements: 4-bit scale (low nibble), 4-bit min (high nibble)
    ///         uint8_t qs[64];     // 2-bit quants
    ///         ggml_half d;        // scale of the scales
    ///         ggml_half dmin;     // scale of the mins
    ///     };
    ///
    /// Element 128h + 32s + l (h < 2, s < 4, l < 32) is bits 2s, 2s+1 of qs[32h + l];
    /// x = (d * (sc & 15)) * q - dmin * (sc >> 4) with sc = scales[element / 16].
    static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 80), dmin = half(x, 82)
        for h in 0..<2 {
            for s in 0..<4 {
                let first = 128 * h + 32 * s
                for group in 0..<2 {
                    let sc = byte(x, first / 16 + group)
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in 16 * group..<16 * group + 16 {
                        let q = (byte(x, 16 + 32 * h + l) >> UInt8(2 * s)) & 3
                        y[first + l] = dl * Float(q) - ml
                    }
                }
            }
        }
    }

    /// Q3_K, 110 bytes:
    ///
    ///     struct block_q3_K {
    ///         uint8_t hmask[32];  // bit 2 of each quant, inverted: set means +0, clear means -4
    ///         uint8_t qs[64];     // bits 0-1 of each quant
    ///         uint8_t scales[12]; // 16 6-bit signed scales (q3KScale)
    ///         ggml_half d;
    ///     };
    ///
    /// Element 128h + 32s + l (h < 2, s < 4, l < 32): low bits 2s, 2s+1 of qs[32h + l], high bit 4h + s of hmask[l];
    /// x = (d * scale[element / 16]) * (low - (high ? 0 : 4)).
    static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 108)
        for h in 0..<2 {
            for s in 0..<4 {
                let first = 128 * h + 32 * s
                let hbit = UInt8(4 * h + s)
                for group in 0..<2 {
                    let dl = d * Float(q3KScale(x + 96, first / 16 + group))
                    for l in 16 * group..<16 * group + 16 {
                        let low = Int((byte(x, 32 + 32 * h + l) >> UInt8(2 * s)) & 3)
                        let high = (byte(x, l) >> hbit) & 1
                        y[first + l] = dl * Float(high == 0 ? low - 4 : low)
                    }
                }
            }
        }
    }

    /// Scale j (< 16) of a Q3_K block, from its 12 packed bytes: the low 4 bits are byte j (j < 8) or the high nibble of
    /// byte j - 8; the top 2 bits are bits 2(j / 4), +1 of byte 8 + j % 4; stored with an offset of 32.
    @inline(__always)
    static func q3KScale(_ scales: UnsafeRawPointer, _ j: Int) -> Int {
        let low = j < 8 ? byte(scales, j) & 0x0F : byte(scales, j - 8) >> 4
        let high = (byte(scales, 8 + j % 4) >> UInt8(2 * (j / 4))) & 3
        return Int(low | high << 4) - 32
    }

    /// Q4_K, 144 bytes:
    ///
    ///     struct block_q4_K {
    ///         ggml_half d;        // scale of the scales
    ///         ggml_half dmin;     // scale of the mins
    ///         uint8_t scales[12]; // 8 6-bit scales and 8 6-bit mins (scaleMinK4)
    ///         uint8_t qs[128];    // 4-bit quants
    ///     };
    ///
    /// Element 64c + 32n + l (c < 4, n < 2, l < 32) is nibble n of qs[32c + l], in sub-block j = 2c + n;
    /// x = (d * sc_j) * q - dmin * m_j.
    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        scaledNibbles(x, y, quantsAt: 16, highBitsAt: nil)
    }

    /// Q5_K, 176 bytes:
    ///
    ///     struct block_q5_K {
    ///         ggml_half d;        // scale of the scales
    ///         ggml_half dmin;     // scale of the mins
    ///         uint8_t scales[12]; // 8 6-bit scales and 8 6-bit mins (scaleMinK4)
    ///         uint8_t qh[32];     // bit 4 of each quant
    ///         uint8_t qs[128];    // bits 0-3 of each quant
    ///     };
    ///
    /// As Q4_K, plus bit 4 of element 32j + l (sub-block j) is bit j of qh[l].
    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        scaledNibbles(x, y, quantsAt: 48, highBitsAt: 16)
    }

    /// The shared body of Q4_K and Q5_K: eight 32-element sub-blocks with 6-bit scales and mins.
    @inline(__always)
    private static func scaledNibbles(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, quantsAt: Int, highBitsAt: Int?) {
        let d = half(x, 0), dmin = half(x, 2)
        for j in 0..<8 {
            let (sc, m) = scaleMinK4(x + 4, j)
            let dl = d * Float(sc), ml = dmin * Float(m)
            let qs = x + quantsAt + 32 * (j / 2), shift = UInt8(4 * (j % 2))
            let out = y + 32 * j
            for l in 0..<32 {
                var q = (byte(qs, l) >> shift) & 0x0F
                if let highBitsAt { q |= ((byte(x, highBitsAt + l) >> UInt8(j)) & 1) << 4 }
                out[l] = dl * Float(q) - ml
            }
        }
    }

    /// ggml's `get_scale_min_k4`: scale and min j (< 8) from the 12 packed bytes of a Q4_K/Q5_K block.
    /// j < 4: the low 6 bits of bytes j and j + 4. j >= 4: a nibble of byte j + 4 (low for the scale, high for the min)
    /// plus the top 2 bits of byte j - 4 (scale) or j (min) as bits 4-5.
    @inline(__always)
    static func scaleMinK4(_ scales: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (byte(scales, j) & 63, byte(scales, j + 4) & 63) }
        let packed = byte(scales, j + 4)
        return ((packed & 0x0F) | (byte(scales, j - 4) >> 6) << 4, (packed >> 4) | (byte(scales, j) >> 6) << 4)
    }

    /// Q6_K, 210 bytes:
    ///
    ///     struct block_q6_K {
    ///         uint8_t ql[128];    // bits 0-3 of each quant
    ///         uint8_t qh[64];     // bits 4-5 of each quant
    ///         int8_t scales[16];  // one 8-bit scale per 16 elements
    ///         ggml_half d;
    ///     };
    ///
    /// Element 128h + 32s + l (h < 2, s < 4, l < 32): bits 0-3 are the low (s < 2) or high (s >= 2) nibble of
    /// ql[64h + 32(s % 2) + l]; bits 4-5 are bits 2s, 2s+1 of qh[32h + l]; x = (d * scale[element / 16]) * (q - 32).
    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 208)
        for h in 0..<2 {
            for s in 0..<4 {
                let first = 128 * h + 32 * s
                let ql = x + 64 * h + 32 * (s % 2), qh = x + 128 + 32 * h
                let lowShift = UInt8(4 * (s / 2)), highShift = UInt8(2 * s)
                for group in 0..<2 {
                    let dl = d * Float(Int8(bitPattern: byte(x, 192 + first / 16 + group)))
                    for l in 16 * group..<16 * group + 16 {
                        let low = (byte(ql, l) >> lowShift) & 0x0F
                        let high = (byte(qh, l) >> highShift) & 3
                        y[first + l] = dl * Float(Int(low | high << 4) - 32)
                    }
                }
            }
        }
    }
}
