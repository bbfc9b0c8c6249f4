import Dispatch

/// Element-wise kernels of the forward pass, vectorised with SIMD8 so they stay small next to the BLAS products.
public enum VectorMath {
    /// exp on 8 lanes (Cephes expf: range reduction by ln 2 and a degree-5 polynomial; about 1 ulp on [-87, 88]).
    /// No float-to-int conversion (Swift's generic one is scalar and slow): adding 1.5 * 2^23 rounds x / ln 2 to an
    /// integer that sits in the low mantissa bits, and those bits build 2^n directly.
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let clamped = pointwiseMin(pointwiseMax(x, SIMD8(repeating: -87.3)), SIMD8(repeating: 88.3))
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        // Two-step ln 2 so that r = x - n ln2 keeps full precision.
        var r = clamped - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p: SIMD8<Float> = SIMD8(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_452e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5e-1
        p = p * (r * r) + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
        return p * scale
    }

    /// exp of one value with the same kernel as the vector form (used for tails, so results do not depend on alignment).
    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(SIMD8(repeating: x))[0] }

    /// x[i] = exp(x[i] - shift); returns the sum in float64.
    public static func expShiftedSum(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Double {
        var total = 0.0
        var i = 0
        while i + 8 <= count {
            // Partial sums of 8 lanes over a short run, then added to the float64 total.
            var lanes = SIMD8<Float>.zero
            let end = min(count, i + 512) & ~7
            while i < end {
                let raw = UnsafeMutableRawPointer(x + i)
                let v = exp(raw.loadUnaligned(as: SIMD8<Float>.self) - shift)
                raw.storeBytes(of: v, as: SIMD8<Float>.self)
                lanes += v
                i += 8
            }
            total += Double(lanes.sum())
        }
        while i < count {
            x[i] = exp(x[i] - shift)
            total += Double(x[i])
            i += 1
        }
        return total
    }

    /// Largest element of x[0..<count].
    public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var best = -Float.infinity
        for i in 0..<count { best = Swift.max(best, x[i]) }
        return best
    }

    /// In-place softmax of one row.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let sum = expShiftedSum(x, count: count, shift: maximum(x, count: count))
        let inverse = Float(1 / sum)
        for i in 0..<count { x[i] *= inverse }
    }

    /// gate[i] = SiLU(gate[i]) * up[i] (the SwiGLU product), on every thread for a prefill's worth of values. Each
    /// value is computed alone (the scalar tail runs the vector kernel's lane), so the split changes no value.
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        let g = SendablePointer(gate), u = SendablePointer(UnsafeMutablePointer(mutating: up))
        // Ranges of whole SIMD8 groups.
        parallelRanges((count + 7) / 8, minimumWork: parallelElements / 8) { range in
            let start = range.lowerBound * 8, end = min(count, range.upperBound * 8)
            swiGLUSerial(gate: g.pointer + start, up: u.pointer + start, count: end - start)
        }
    }

    private static func swiGLUSerial(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self)
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self)
            let silu = g / (1 + exp(-g))
            UnsafeMutableRawPointer(gate + i).storeBytes(of: silu * u, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            gate[i] = gate[i] / (1 + exp(-gate[i])) * up[i]
            i += 1
        }
    }

    /// Values below which element-wise work stays on one thread: waking another costs about what this many take.
    public static let parallelElements = 1 << 16

    /// Runs body on consecutive ranges covering 0..<count, one per thread (up to `BLAS.threads`), or on the whole
    /// range on this thread when count is below `minimumWork` per extra thread.
    public static func parallelRanges(_ count: Int, minimumWork: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let threads = max(1, min(BLAS.threads, count / max(1, minimumWork)))
        guard threads > 1 else {
            body(0..<count)
            return
        }
        let per = (count + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            let start = worker * per
            if start < count { body(start..<min(count, start + per)) }
        }
    }

    /// Runs body(i) for i in 0..<count on up to `BLAS.threads` threads (the cores mop was given).
    public static func parallelFor(_ count: Int, _ body: @Sendable (Int) -> Void) {
        let threads = min(BLAS.threads, count)
        if threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            var i = worker
            while i < count {
                body(i)
                i += threads
            }
        }
    }
}
