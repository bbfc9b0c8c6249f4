import Foundation

extension VectorMath {
    /// Backward of a = SiLU(g) * u, element-wise over `count` values: dg = da * u * SiLU'(g), du = da * SiLU(g),
    /// with SiLU'(g) = sigma(g) * (1 + g * (1 - sigma(g))).
    public static func swiGLUBackward(da: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                      dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            let sigma = 1 / (1 + Foundation.exp(-g))
            dUp[i] = da[i] * g * sigma
            dGate[i] = da[i] * up[i] * sigma * (1 + g * (1 - sigma))
        }
    }
}
