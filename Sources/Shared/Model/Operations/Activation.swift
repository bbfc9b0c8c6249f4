import Foundation

/// The MLP activations, each with its forward and backward; a gated MLP computes a = act(gate) * up (SwiGLU,
/// GeGLU). Element-wise and value by value, so splitting the work among threads changes no value. SiLU's and GELU-tanh's
/// forwards and GELU-tanh's backwards run in the C kernels (CKernels.h); GELU-erf and quick-GELU (LLaVA's projector
/// and vision tower) value by value in Swift.
public enum Activation: String, Sendable {
    /// x * sigmoid(x) (LLaMA, Qwen): its gated product runs in the C kernels.
    case silu
    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), transformers' `gelu_pytorch_tanh` and `gelu_new` (Gemma, Phi).
    case geluTanh
    /// x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), transformers' `gelu` (LLaVA's projector).
    case geluErf
    /// x * sigmoid(1.702 x), transformers' `quick_gelu` (OpenAI CLIP's vision tower).
    case quickGelu

    /// config.json's `hidden_act` (or `hidden_activation`) values read as this activation; the first is written.
    public var hfNames: [String] {
        switch self {
        case .silu: ["silu", "swish"]
        case .geluTanh: ["gelu_pytorch_tanh", "gelu_new", "gelu_fast"]
        case .geluErf: ["gelu"]
        case .quickGelu: ["quick_gelu"]
        }
    }

    public static func forHFName(_ name: String) -> Activation? {
        [Activation.silu, .geluTanh, .geluErf, .quickGelu].first { $0.hfNames.contains(name) }
    }

    /// Where an activation is computed: SiLU's and GELU-tanh's own paths, or value by value in Swift from act(x) and
    /// act'(x) (GELU-erf and quick-GELU, used only by LLaVA's projector and vision tower).
    private enum Kernel {
        case silu
        case geluTanh
        case scalar(@Sendable (Float) -> (value: Float, slope: Float))
    }

    private var kernel: Kernel {
        switch self {
        case .silu: .silu
        case .geluTanh: .geluTanh
        case .geluErf:
            .scalar { x in
                // Phi(x) + x phi(x), phi the standard normal density.
                let cdf = 0.5 * (1 + Foundation.erf(x * 0.7071067811865476))
                return (x * cdf, cdf + x * 0.3989422804014327 * Foundation.exp(-0.5 * x * x))
            }
        case .quickGelu:
            .scalar { x in
                let sigma = 1 / (1 + Foundation.exp(-1.702 * x))
                return (x * sigma, sigma * (1 + 1.702 * x * (1 - sigma)))
            }
        }
    }

    /// x[i] = act(x[i]) for `count` values (a plain MLP).
    func forward(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch kernel {
        case .silu:
            for i in 0..<count { x[i] = x[i] / (1 + Foundation.exp(-x[i])) }
        case .geluTanh:
            VectorMath.geluTanh(x, count: count)
        case .scalar(let valueAndSlope):
            for i in 0..<count { x[i] = valueAndSlope(x[i]).value }
        }
    }

    /// dy[i] *= act'(x[i]): the backward of `forward`, in place on the gradient.
    func backward(x: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>, count: Int) {
        switch kernel {
        case .silu:
            for i in 0..<count {
                let sigma = 1 / (1 + Foundation.exp(-x[i]))
                dy[i] *= sigma * (1 + x[i] * (1 - sigma))
            }
        case .geluTanh:
            VectorMath.kernels.gelu_tanh_backward(x, dy, Int64(count))
        case .scalar(let valueAndSlope):
            for i in 0..<count { dy[i] *= valueAndSlope(x[i]).slope }
        }
    }

    /// gate[i] = act(gate[i]) * up[i] for `count` values.
    func gatedForward(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        switch kernel {
        case .silu:
            VectorMath.swiGLU(gate: gate, up: up, count: count)
        case .geluTanh:
            VectorMath.geGLU(gate: gate, up: up, count: count)
        case .scalar(let valueAndSlope):
            let g = SendablePointer(gate), u = SendablePointer(UnsafeMutablePointer(mutating: up))
            VectorMath.parallelRanges(count, minimumWork: VectorMath.parallelElements) { range in
                for i in range { g.pointer[i] = valueAndSlope(g.pointer[i]).value * u.pointer[i] }
            }
        }
    }

    /// Backward of a = act(g) * u: dg = da * u * act'(g), du = da * act(g).
    func gatedBackward(da: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                       dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        switch kernel {
        case .silu:
            // sigma from the kernels' exp (the forward's), a chunk at a time into dUp, on every thread.
            let d = SendablePointer(UnsafeMutablePointer(mutating: da)), g = SendablePointer(UnsafeMutablePointer(mutating: gate))
            let u = SendablePointer(UnsafeMutablePointer(mutating: up)), dg = SendablePointer(dGate), du = SendablePointer(dUp)
            VectorMath.parallelRanges(count, minimumWork: VectorMath.parallelElements) { range in
                for start in stride(from: range.lowerBound, to: range.upperBound, by: 4096) {
                    let n = min(4096, range.upperBound - start)
                    let gs = g.pointer + start, e = du.pointer + start
                    for i in 0..<n { e[i] = -gs[i] }
                    VectorMath.kernels.exp(e, e, Int64(n))
                    let das = d.pointer + start, ups = u.pointer + start, dgs = dg.pointer + start
                    for i in 0..<n {
                        let sigma = 1 / (1 + e[i])
                        dgs[i] = das[i] * ups[i] * sigma * (1 + gs[i] * (1 - sigma))
                        e[i] = das[i] * gs[i] * sigma
                    }
                }
            }
        case .geluTanh:
            VectorMath.kernels.geglu_backward(da, gate, up, dGate, dUp, Int64(count))
        case .scalar(let valueAndSlope):
            for i in 0..<count {
                let (value, slope) = valueAndSlope(gate[i])
                dUp[i] = da[i] * value
                dGate[i] = da[i] * up[i] * slope
            }
        }
    }
}
