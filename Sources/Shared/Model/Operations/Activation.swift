import Foundation

/// The MLP activations, each with its forward and backward; a gated MLP computes a = act(gate) * up (SwiGLU,
/// GeGLU). Element-wise and value by value, so splitting the work among threads changes no value.
public enum Activation: String, Sendable {
    /// x * sigmoid(x) (LLaMA, Qwen): its gated product runs in the C kernels.
    case silu
    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), transformers' `gelu_pytorch_tanh` and `gelu_new` (Gemma, Phi).
    case geluTanh

    /// config.json's `hidden_act` (or `hidden_activation`) values read as this activation; the first is written.
    public var hfNames: [String] {
        switch self {
        case .silu: ["silu", "swish"]
        case .geluTanh: ["gelu_pytorch_tanh", "gelu_new", "gelu_fast"]
        }
    }

    public static func forHFName(_ name: String) -> Activation? {
        [Activation.silu, .geluTanh].first { $0.hfNames.contains(name) }
    }

    /// x[i] = act(x[i]) for `count` values (a plain MLP).
    func forward(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .silu:
            for i in 0..<count { x[i] = x[i] / (1 + Foundation.exp(-x[i])) }
        case .geluTanh:
            for i in 0..<count { x[i] = Self.geluTanh(x[i]) }
        }
    }

    /// dy[i] *= act'(x[i]): the backward of `forward`, in place on the gradient.
    func backward(x: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            switch self {
            case .silu:
                let sigma = 1 / (1 + Foundation.exp(-x[i]))
                dy[i] *= sigma * (1 + x[i] * (1 - sigma))
            case .geluTanh:
                dy[i] *= Self.geluTanhWithSlope(x[i]).slope
            }
        }
    }

    /// gate[i] = act(gate[i]) * up[i] for `count` values.
    func gatedForward(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        switch self {
        case .silu:
            VectorMath.swiGLU(gate: gate, up: up, count: count)
        case .geluTanh:
            let g = SendablePointer(gate), u = SendablePointer(UnsafeMutablePointer(mutating: up))
            VectorMath.parallelRanges(count, minimumWork: VectorMath.parallelElements) { range in
                for i in range { g.pointer[i] = Self.geluTanh(g.pointer[i]) * u.pointer[i] }
            }
        }
    }

    /// Backward of a = act(g) * u: dg = da * u * act'(g), du = da * act(g).
    func gatedBackward(da: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                       dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .silu:
            for i in 0..<count {
                let g = gate[i]
                let sigma = 1 / (1 + Foundation.exp(-g))
                dUp[i] = da[i] * g * sigma
                dGate[i] = da[i] * up[i] * sigma * (1 + g * (1 - sigma))
            }
        case .geluTanh:
            for i in 0..<count {
                let (value, slope) = Self.geluTanhWithSlope(gate[i])
                dUp[i] = da[i] * value
                dGate[i] = da[i] * up[i] * slope
            }
        }
    }

    private static let geluTanhC: Float = 0.7978845608028654  // sqrt(2/pi)

    static func geluTanh(_ x: Float) -> Float {
        0.5 * x * (1 + Foundation.tanh(geluTanhC * (x + 0.044715 * x * x * x)))
    }

    /// GELU-tanh and its derivative: 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2), t = tanh(c (x + 0.044715 x^3)).
    static func geluTanhWithSlope(_ x: Float) -> (value: Float, slope: Float) {
        let t = Foundation.tanh(geluTanhC * (x + 0.044715 * x * x * x))
        let slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * geluTanhC * (1 + 3 * 0.044715 * x * x)
        return (0.5 * x * (1 + t), slope)
    }
}
