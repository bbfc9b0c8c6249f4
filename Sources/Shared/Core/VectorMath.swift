import CKernels
import Dispatch

/// The element-wise kernels (exp, softmax, SwiGLU, GeGLU, GELU-tanh; the norms, RoPE and the activations' backwards
/// call `kernels` too), in C
/// compiled for baseline x86-64, AVX2 and AVX-512 and chosen at run time like `QuantKernels`: every variant gives
/// the same bits (CKernels.h), so results do not depend on the CPU. The C functions are single-threaded; the
/// splitting among threads is here.
public enum VectorMath {
    /// The chosen variant's kernels.
    static let kernels = mop_vector_kernels_for(-1)!.pointee

    /// exp(x) with the kernels' polynomial (about 1 ulp on [-87, 88]).
    public static func exp(_ x: Float) -> Float {
        var input = x, output: Float = 0
        kernels.exp(&input, &output, 1)
        return output
    }

    /// x[i] = exp(x[i] - shift); returns the sum in float64.
    public static func expShiftedSum(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Double {
        kernels.exp_shifted_sum(x, Int64(count), shift)
    }

    /// Largest element of x[0..<count].
    public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float { kernels.maximum(x, Int64(count)) }

    /// In-place softmax of x[0..<visible]; x[visible..<width] (a causal row's masked tail) set to 0.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, visible: Int, width: Int) {
        kernels.softmax(x, Int64(visible), Int64(width))
    }

    /// In-place softmax of one row.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) { softmax(x, visible: count, width: count) }

    /// gate[i] = SiLU(gate[i]) * up[i] (the SwiGLU product), on every thread for a prefill's worth of values. Each
    /// value is computed alone, so the split changes no value.
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        let g = SendablePointer(gate), u = SendablePointer(UnsafeMutablePointer(mutating: up))
        parallelRanges(count, minimumWork: parallelElements) { range in
            kernels.swiglu(g.pointer + range.lowerBound, u.pointer + range.lowerBound, Int64(range.count))
        }
    }

    /// gate[i] = GELU-tanh(gate[i]) * up[i] (the GeGLU product), split among threads as `swiGLU`.
    public static func geGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        let g = SendablePointer(gate), u = SendablePointer(UnsafeMutablePointer(mutating: up))
        parallelRanges(count, minimumWork: parallelElements) { range in
            kernels.geglu(g.pointer + range.lowerBound, u.pointer + range.lowerBound, Int64(range.count))
        }
    }

    /// x[i] = GELU-tanh(x[i]), split among threads as `swiGLU`.
    public static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let values = SendablePointer(x)
        parallelRanges(count, minimumWork: parallelElements) { range in
            kernels.gelu_tanh(values.pointer + range.lowerBound, Int64(range.count))
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
