import Foundation

/// A logit soft-cap, y = cap * tanh(x / cap) element by element: Gemma-2's `final_logit_softcapping` on the head's
/// logits (config.json and GGUF `final_logit_softcapping`). It bounds every logit to (-cap, cap) and is nearly the
/// identity well inside. Its backward needs only the output: dy/dx = 1 - tanh^2 = 1 - (y / cap)^2.
public enum SoftCap {
    /// x[i] = cap * tanh(x[i] / cap) for `count` values, on every thread for a head's worth of logits.
    static func forward(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
        let values = SendablePointer(x)
        VectorMath.parallelRanges(count, minimumWork: VectorMath.parallelElements) { range in
            for i in range { values.pointer[i] = cap * Foundation.tanh(values.pointer[i] / cap) }
        }
    }

    /// dy[i] *= 1 - (y[i] / cap)^2, with y the forward's output: the gradient of its input.
    static func backward(output y: UnsafePointer<Float>, dy: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
        for i in 0..<count {
            let t = y[i] / cap
            dy[i] *= 1 - t * t
        }
    }
}
