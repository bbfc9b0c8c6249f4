import Foundation

/// The MLP activations, each with its forward and backward; a gated MLP computes a = act(gate) * up (SwiGLU,
/// GeGLU). Element-wise and value by value, so splitting the work among threads changes no value. The forwards of
/// both and GELU-tanh's backwards run in the C kernels (CKernels.h).
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
            VectorMath.geluTanh(x, count: count)
        }
    }

    /// dy[i] *= act'(x[i]): the backward of `forward`, in place on the gradient.
    func backward(x: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .silu:
            for i in 0..<count {
                let sigma = 1 / (1 + Foundation.exp(-x[i]))
                dy[i] *= sigma * (1 + x[i] * (1 - sigma))
            }
        case .geluTanh:
            VectorMath.kernels.gelu_tanh_backward(x, dy, Int64(count))
        }
    }

    /// gate[i] = act(gate[i]) * up[i] for `count` values.
    func gatedForward(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        switch self {
        case .silu:
            VectorMath.swiGLU(gate: gate, up: up, count: count)
        case .geluTanh:
            VectorMath.geGLU(gate: gate, up: up, count: count)
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
            VectorMath.kernels.geglu_backward(da, gate, up, dGate, dUp, Int64(count))
        }
    }
}
