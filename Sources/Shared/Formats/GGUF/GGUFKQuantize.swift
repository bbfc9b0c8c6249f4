/// The K-quant encoders Q4_K, Q5_K and Q6_K (layouts: `GGUFDequantize.q4_K` and friends), one 256-element super-block
/// at a time, bytes equal to ggml's: without importance `quantize_row_q4_K_ref`, `q5_K_ref`, `q6_K_ref` (what
/// llama-quantize writes without an imatrix); with importance (one non-negative weight per column of the row, as an
/// imatrix holds) `quantize_row_q4_K_impl` and friends, the encoders llama-quantize runs with `--imatrix`.
extension GGUFQuantize {
    /// One Q4_K (`nmax` 15, 144 bytes) or Q5_K (`nmax` 31, 176 bytes) super-block of `x[0..<256]`; `importance` points
    /// at the 256 weights of these columns. Eight 32-element sub-blocks each get a scale and a min from ggml's
    /// search, both then quantized to 6 bits against the super-block's f16 `d` and `dmin`, and the quants recomputed
    /// against those rounded scales.
    static func scaleMinK(_ x: UnsafePointer<Float>, nmax: Int32, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer) {
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 + 32 + 8 + 8 + 32)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 32 + 8 + 8 + 8)
        defer { bytes.deallocate(); floats.deallocate() }
        let L = bytes, laux = bytes + 256, ls = bytes + 288, lm = bytes + 296, high = bytes + 304
        let weights = floats, subBlockWeights = floats + 32, scales = floats + 40, mins = floats + 48
        var d: Float, dmin: Float
        if let importance {
            var sumX2: Float = 0
            for l in 0..<256 { sumX2 += x[l] * x[l] }
            let sigma2 = 2 * sumX2 / 256
            for j in 0..<8 {
                var sumW: Float = 0
                for l in 0..<32 {
                    let v = x[32 * j + l]
                    weights[l] = importance[32 * j + l] * (sigma2 + v * v).squareRoot()
                    sumW += weights[l]
                }
                subBlockWeights[j] = sumW
                scales[j] = GGUFScaleSearch.scaleAndMin(.qkx3, 32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], laux,
                                                        rmin: -0.9, rdelta: 0.05, nstep: 36)
            }
            d = GGUFScaleSearch.positive(8, 63, scales, ls, subBlockWeights)
            dmin = GGUFScaleSearch.positive(8, 63, mins, lm, subBlockWeights)
        } else {
            var maxScale: Float = 0, maxMin: Float = 0
            for j in 0..<8 {
                var sumX2: Float = 0
                for l in 0..<32 { sumX2 += x[32 * j + l] * x[32 * j + l] }
                let average = (sumX2 / 32).squareRoot()
                for l in 0..<32 { weights[l] = average + abs(x[32 * j + l]) }
                scales[j] = GGUFScaleSearch.scaleAndMin(.qkx2, 32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], laux,
                                                        rmin: nmax == 15 ? -1 : -0.5, rdelta: 0.1, nstep: nmax == 15 ? 20 : 15)
                if scales[j] > maxScale { maxScale = scales[j] }
                if mins[j] > maxMin { maxMin = mins[j] }
            }
            let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0, inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
            for j in 0..<8 {
                ls[j] = Swift.min(63, UInt8(truncatingIfNeeded: GGUFScaleSearch.nearestInt(inverseScale * scales[j])))
                lm[j] = Swift.min(63, UInt8(truncatingIfNeeded: GGUFScaleSearch.nearestInt(inverseMin * mins[j])))
            }
            d = maxScale / 63
            dmin = maxMin / 63
        }

        let packed = y + 4
        for j in 0..<12 { packed.storeBytes(of: 0, toByteOffset: j, as: UInt8.self) }
        for j in 0..<8 {
            let scale = Swift.min(63, ls[j]), min = Swift.min(63, lm[j])
            if j < 4 {
                packed.storeBytes(of: scale, toByteOffset: j, as: UInt8.self)
                packed.storeBytes(of: min, toByteOffset: j + 4, as: UInt8.self)
            } else {
                packed.storeBytes(of: (scale & 0x0F) | (min & 0x0F) << 4, toByteOffset: j + 4, as: UInt8.self)
                packed.storeBytes(of: packed.load(fromByteOffset: j - 4, as: UInt8.self) | (scale >> 4) << 6, toByteOffset: j - 4, as: UInt8.self)
                packed.storeBytes(of: packed.load(fromByteOffset: j, as: UInt8.self) | (min >> 4) << 6, toByteOffset: j, as: UInt8.self)
            }
        }
        let dHalf = GGUFScaleSearch.throughHalf(d), dminHalf = GGUFScaleSearch.throughHalf(dmin)
        y.storeBytes(of: dHalf.bits.littleEndian, as: UInt16.self)
        y.storeBytes(of: dminHalf.bits.littleEndian, toByteOffset: 2, as: UInt16.self)

        for j in 0..<8 {
            let (sc, m) = GGUFDequantize.scaleMinK4(packed, j)
            let dl = dHalf.value * Float(sc)
            if dl == 0 { continue }  // ggml keeps the search's quants for a sub-block whose scale rounded to zero
            let dm = dminHalf.value * Float(m)
            for i in 0..<32 {
                L[32 * j + i] = UInt8(Swift.max(0, Swift.min(nmax, GGUFScaleSearch.nearestInt((x[32 * j + i] + dm) / dl))))
            }
        }

        if nmax == 15 {
            for chunk in 0..<4 {
                for l in 0..<32 {
                    y.storeBytes(of: L[64 * chunk + l] | L[64 * chunk + l + 32] << 4, toByteOffset: 16 + 32 * chunk + l, as: UInt8.self)
                }
            }
            return
        }
        for l in 0..<32 { high[l] = 0 }
        for chunk in 0..<4 {
            let bit1 = UInt8(1) << UInt8(2 * chunk), bit2 = UInt8(2) << UInt8(2 * chunk)
            for l in 0..<32 {
                var l1 = L[64 * chunk + l], l2 = L[64 * chunk + l + 32]
                if l1 > 15 { l1 -= 16; high[l] |= bit1 }
                if l2 > 15 { l2 -= 16; high[l] |= bit2 }
                y.storeBytes(of: l1 | l2 << 4, toByteOffset: 48 + 32 * chunk + l, as: UInt8.self)
            }
        }
        for l in 0..<32 { y.storeBytes(of: high[l], toByteOffset: 16 + l, as: UInt8.self) }
    }

    /// One Q6_K super-block (210 bytes) of `x[0..<256]`: sixteen 16-element sub-blocks with symmetric 6-bit quants,
    /// their scales quantized to int8 against the f16 `d`; `importance` (the 256 weights of these columns) replaces
    /// the x² weights of the scale search, as `quantize_row_q6_K_impl` does.
    static func q6_K(_ x: UnsafePointer<Float>, importance: UnsafePointer<Float>?, into y: UnsafeMutableRawPointer) {
        let L = UnsafeMutablePointer<Int8>.allocate(capacity: 256), scales = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        defer { L.deallocate(); scales.deallocate() }
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for ib in 0..<16 {
            let scale = GGUFScaleSearch.symmetric(16, 32, x + 16 * ib, L + 16 * ib, weights: importance.map { $0 + 16 * ib })
            scales[ib] = scale
            if abs(scale) > maxAbsScale {
                maxAbsScale = abs(scale)
                maxScale = scale
            }
        }
        if maxAbsScale < GGUFScaleSearch.groupMaxEps {
            y.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
            return
        }
        let iscale = -128 / maxScale
        let d = GGUFScaleSearch.throughHalf(1 / iscale)
        y.storeBytes(of: d.bits.littleEndian, toByteOffset: 208, as: UInt16.self)
        for ib in 0..<16 {
            let q = Swift.min(127, GGUFScaleSearch.nearestInt(iscale * scales[ib]))
            y.storeBytes(of: Int8(truncatingIfNeeded: q), toByteOffset: 192 + ib, as: Int8.self)
        }
        for j in 0..<16 {
            let dl = d.value * Float(y.load(fromByteOffset: 192 + j, as: Int8.self))
            if dl == 0 { continue }
            for i in 0..<16 {
                let l = Swift.max(-32, Swift.min(31, GGUFScaleSearch.nearestInt(x[16 * j + i] / dl)))
                L[16 * j + i] = Int8(l + 32)
            }
        }
        let q = UnsafeRawPointer(L).assumingMemoryBound(to: UInt8.self)
        for half in 0..<2 {
            let base = 128 * half
            for l in 0..<32 {
                let q1 = q[base + l], q2 = q[base + l + 32], q3 = q[base + l + 64], q4 = q[base + l + 96]
                y.storeBytes(of: (q1 & 0x0F) | (q3 & 0x0F) << 4, toByteOffset: 64 * half + l, as: UInt8.self)
                y.storeBytes(of: (q2 & 0x0F) | (q4 & 0x0F) << 4, toByteOffset: 64 * half + l + 32, as: UInt8.self)
                y.storeBytes(of: q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6, toByteOffset: 128 + 32 * half + l, as: UInt8.self)
            }
        }
    }
}
