/// The scale searches of ggml's block quantizers (ggml-quants.c: `make_qx_quants`, `make_qkx2_quants`,
/// `make_qkx3_quants`, `make_qp_quants`), written to give the same floats as ggml built without FMA contraction (as
/// llama.cpp builds ggml-quants.c): every sum runs in element order in Float, every product keeps C's left-to-right
/// grouping, and integers become Float where C converts them. A different order or a fused multiply-add changes the
/// last bit of a sum, which can flip a comparison and so a chosen scale: the point of these files is the same bytes.
enum GGUFScaleSearch {
    /// ggml's `GROUP_MAX_EPS`: a group whose largest magnitude is below it is all zero.
    static let groupMaxEps: Float = 1e-15

    /// ggml's `nearest_int`: rounds to nearest even by adding 1.5 * 2^23 and reading the mantissa bits, which is what
    /// ggml computes for every input (its range assert is compiled out), so out-of-range values wrap as ggml's do.
    @inline(__always)
    static func nearestInt(_ value: Float) -> Int32 {
        let shifted = value + 12_582_912
        return Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF) - 0x0040_0000
    }

    /// The Float a C `float` becomes after a round trip through `ggml_half`.
    @inline(__always)
    static func throughHalf(_ value: Float) -> (bits: UInt16, value: Float) {
        let bits = SafetensorsDType.floatToHalf(value)
        return (bits, SafetensorsDType.halfToFloat(bits))
    }

    /// `make_qx_quants` with `rmse_type` 1: symmetric quants L[i] in 0..<2 nmax (stored with the offset nmax) of `n`
    /// values, the scale chosen among 19 candidates around -nmax / max by weighted least squares; weights are
    /// `weights` when given, else x². Returns the scale (0 for an all-zero group, whose L are 0).
    static func symmetric(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                          weights: UnsafePointer<Float>?) -> Float {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func weight(_ i: Int) -> Float { weights?[i] ?? x[i] * x[i] }
        @inline(__always) func clamped(_ l: Int32) -> Int32 { Swift.max(-nmax, Swift.min(nmax - 1, l)) }
        var iscale = Float(-nmax) / max
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = clamped(nearestInt(iscale * x[i]))
            L[i] = Int8(truncatingIfNeeded: l + nmax)
            let w = weight(i), fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / max
            sumlx = 0; suml2 = 0
            for i in 0..<n {
                let l = clamped(nearestInt(iscale * x[i]))
                let w = weight(i), fl = Float(l)
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n { L[i] = Int8(truncatingIfNeeded: nmax + clamped(nearestInt(iscale * x[i]))) }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// Which of ggml's two scale-and-min searches: `make_qkx2_quants` (the reference K-quant encoders) gives up only
    /// when max == min, `make_qkx3_quants` (the importance-weighted ones) when max <= min; the two differ for a group
    /// of negative values only, where qkx2 goes on with a negative scale, and ggml's bytes keep that.
    enum MinSearch { case qkx2, qkx3 }

    /// Asymmetric quants L[i] in 0...nmax of `n` values with a scale and a min (x ≈ scale * L - min, min >= 0 returned
    /// in `theMin`): the min is 0 or the group's smallest value, then `nstep + 1` candidate scales
    /// (rmin + rdelta * step + nmax) / (max - min) are refit by weighted least squares, keeping the smallest weighted
    /// squared error. `laux` holds n scratch quants.
    static func scaleAndMin(_ search: MinSearch, _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                            _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ laux: UnsafeMutablePointer<UInt8>,
                            rmin: Float, rdelta: Float, nstep: Int) -> Float {
        var min = x[0], max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if search == .qkx2 ? max == min : max <= min {
            for i in 0..<n { L[i] = 0 }
            theMin = -min
            return 0
        }
        var iscale = Float(nmax) / (max - min)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - min))))
            L[i] = UInt8(truncatingIfNeeded: l)
            let diff = scale * Float(L[i]) + min - x[i]
            bestError += weights[i] * (diff * diff)
        }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - min))))
                laux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            guard D > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n {
                let diff = thisScale * Float(laux[i]) + thisMin - x[i]
                error += weights[i] * (diff * diff)
            }
            if error < bestError {
                for i in 0..<n { L[i] = laux[i] }
                bestError = error
                scale = thisScale
                min = thisMin
            }
        }
        theMin = -min
        return scale
    }

    /// `make_qp_quants`: non-negative quants L[i] in 0...nmax of `n` non-negative values (a super-block's sub-block
    /// scales or mins) with one scale, chosen among 9 candidates by weighted squared error and then refined one quant
    /// at a time (up to 5 passes). Returns the scale (0 when every value is below `groupMaxEps`).
    static func positive(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                         _ weights: UnsafePointer<Float>) -> Float {
        var max: Float = 0
        for i in 0..<n { max = max > x[i] ? max : x[i] }
        if max < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        var iscale = Float(nmax) / max
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMSE: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestMSE += weights[i] * diff * diff
        }
        for step in -4...4 where step != 0 {
            let iscaleStep = (0.1 * Float(step) + Float(nmax)) / max
            let scaleStep = 1 / iscaleStep
            var mse: Float = 0
            for i in 0..<n {
                let l = Swift.min(nmax, nearestInt(iscaleStep * x[i]))
                let diff = x[i] - scaleStep * Float(l)
                mse += weights[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleStep
            }
        }
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = Swift.min(nmax, nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            let w = weights[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = weights[i], li = Float(L[i])
                var slx = sumlx - w * x[i] * li
                var sl2 = suml2 - w * li * li
                guard slx > 0 && sl2 > 0 else { continue }
                let newL = Swift.min(nmax, nearestInt(x[i] * sl2 / slx))
                guard newL != Int32(L[i]) else { continue }
                let fl = Float(newL)
                slx += w * x[i] * fl
                sl2 += w * fl * fl
                if slx * slx * suml2 > sumlx * sumlx * sl2 {
                    L[i] = UInt8(truncatingIfNeeded: newL)
                    sumlx = slx
                    suml2 = sl2
                    changed += 1
                }
            }
            if changed == 0 { break }
        }
        return suml2 > 0 ? sumlx / suml2 : 0
    }
}
