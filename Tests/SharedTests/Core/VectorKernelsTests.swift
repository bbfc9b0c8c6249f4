import CKernels
import Foundation
import XCTest
@testable import Shared

/// The element-wise kernels (CKernels.h `mop_vector_kernels`): the baseline variant against float64 formulas, and
/// every variant the CPU runs against the baseline one, bit for bit, at lengths that end in partial vectors.
final class VectorKernelsTests: XCTestCase {
    static let isaNames = ["baseline", "avx2", "avx512"]
    static var isas: [Int32] { (0..<3).filter { mop_isa_available($0) != 0 } }
    static let lengths = [1, 7, 16, 17, 64, 100, 511, 512, 513, 1100]

    private func kernels(_ isa: Int32) -> mop_vector_kernels { mop_vector_kernels_for(isa)!.pointee }

    /// Runs `body` with each available variant and asserts its floats equal the baseline's bit for bit.
    private func assertVariantsAgree(_ what: String, _ body: (mop_vector_kernels) -> [Float]) {
        let baseline = body(kernels(0))
        for isa in Self.isas.dropFirst() {
            XCTAssertEqual(body(kernels(isa)).map(\.bitPattern), baseline.map(\.bitPattern), "\(what) \(Self.isaNames[Int(isa)])")
        }
    }

    private func randomValues(_ count: Int, scale: Float, seed: UInt64) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in random.uniform(scale) }
    }

    func testExpAndSwiGLU() {
        for n in Self.lengths {
            let x = randomValues(n, scale: 20, seed: UInt64(n))
            let up = randomValues(n, scale: 3, seed: UInt64(n) + 1)
            var y = [Float](repeating: 0, count: n)
            kernels(0).exp(x, &y, Int64(n))
            for (a, b) in zip(x, y) { XCTAssertEqual(Double(b), Foundation.exp(Double(a)), accuracy: 3e-7 * Foundation.exp(Double(a))) }
            var gate = x
            kernels(0).swiglu(&gate, up, Int64(n))
            for i in 0..<n {
                let g = Double(x[i]), expected = g / (1 + Foundation.exp(-g)) * Double(up[i])
                XCTAssertEqual(Double(gate[i]), expected, accuracy: 1e-6 * max(1, abs(expected)), "swiglu \(n) [\(i)]")
            }
            assertVariantsAgree("exp \(n)") { k in
                var out = [Float](repeating: 0, count: n)
                k.exp(x, &out, Int64(n))
                return out
            }
            assertVariantsAgree("swiglu \(n)") { k in
                var g = x
                k.swiglu(&g, up, Int64(n))
                return g
            }
        }
        // Far below the polynomial's range exp is tiny, not NaN or negative; far above it is finite (clamped).
        var extremes: [Float] = [-200, -87.3, 88.3, 200], out = [Float](repeating: -1, count: 4)
        kernels(0).exp(&extremes, &out, 4)
        XCTAssertEqual(Double(out[0]), 0, accuracy: 1e-37)
        XCTAssertTrue(out.allSatisfy { $0.isFinite && $0 >= 0 })
    }

    func testSoftmaxMaximumAndExpSum() {
        for n in Self.lengths {
            let x = randomValues(n, scale: 8, seed: 100 + UInt64(n))
            let visible = max(1, n - n / 3)
            XCTAssertEqual(kernels(0).maximum(x, Int64(n)), x.max()!)
            var row = x
            kernels(0).softmax(&row, Int64(visible), Int64(n))
            let shift = Double(x[..<visible].max()!)
            let total = x[..<visible].reduce(0.0) { $0 + Foundation.exp(Double($1) - shift) }
            for i in 0..<visible {
                XCTAssertEqual(Double(row[i]), Foundation.exp(Double(x[i]) - shift) / total, accuracy: 1e-6, "softmax \(n) [\(i)]")
            }
            XCTAssertTrue(row[visible...].allSatisfy { $0.bitPattern == 0 }, "masked tail of \(n)")
            assertVariantsAgree("softmax \(n)") { k in
                var r = x
                k.softmax(&r, Int64(visible), Int64(n))
                return r
            }
            assertVariantsAgree("exp_shifted_sum \(n)") { k in
                var r = x
                let sum = k.exp_shifted_sum(&r, Int64(n), 1.5)
                return r + [Float(sum), Float(sum - Double(Float(sum)))]
            }
            assertVariantsAgree("maximum \(n)") { k in [k.maximum(x, Int64(n))] }
        }
        XCTAssertEqual(kernels(0).maximum([], 0), -.infinity)
    }

    func testRMSNorm() {
        for d in [1, 17, 64, 100, 576] {
            let rows = 3
            let x = randomValues(rows * d, scale: 2, seed: 200 + UInt64(d))
            let weight = randomValues(d, scale: 1, seed: 300 + UInt64(d)).map { 1 + $0 }
            var y = [Float](repeating: 0, count: rows * d)
            kernels(0).rmsnorm(x, weight, &y, Int64(rows), Int64(d), 1e-5)
            for r in 0..<rows {
                let row = x[(r * d)..<((r + 1) * d)]
                let inverse = 1 / (row.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(d) + 1e-5).squareRoot()
                for i in 0..<d {
                    let expected = Double(x[r * d + i]) * inverse * Double(weight[i])
                    XCTAssertEqual(Double(y[r * d + i]), expected, accuracy: 1e-5 * max(1, abs(expected)), "rmsnorm \(d) row \(r) [\(i)]")
                }
            }
            assertVariantsAgree("rmsnorm \(d)") { k in
                var out = [Float](repeating: 0, count: rows * d)
                k.rmsnorm(x, weight, &out, Int64(rows), Int64(d), 1e-5)
                return out
            }
        }
    }

    func testRopeRotatesPairsAndBack() {
        for headDim in [2, 20, 64, 128] {
            let tokens = 3, heads = 2, half = headDim / 2
            let x = randomValues(tokens * heads * headDim, scale: 2, seed: 400 + UInt64(headDim))
            let angles = (0..<(tokens * half)).map { Double($0 % half + 1) * 0.37 * Double($0 / half + 1) }
            let cosRows = angles.map { Float(cos($0)) }, sinRows = angles.map { Float(sin($0)) }
            var y = x
            kernels(0).rope(&y, Int64(tokens), Int64(heads), Int64(headDim), cosRows, sinRows, 1)
            for t in 0..<tokens {
                for h in 0..<heads {
                    for i in 0..<half {
                        let base = (t * heads + h) * headDim, c = Double(cosRows[t * half + i]), s = Double(sinRows[t * half + i])
                        let x1 = Double(x[base + i]), x2 = Double(x[base + i + half])
                        XCTAssertEqual(Double(y[base + i]), x1 * c - x2 * s, accuracy: 1e-5)
                        XCTAssertEqual(Double(y[base + i + half]), x2 * c + x1 * s, accuracy: 1e-5)
                    }
                }
            }
            var back = y
            kernels(0).rope(&back, Int64(tokens), Int64(heads), Int64(headDim), cosRows, sinRows, -1)
            for (a, b) in zip(back, x) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            assertVariantsAgree("rope \(headDim)") { k in
                var out = x
                k.rope(&out, Int64(tokens), Int64(heads), Int64(headDim), cosRows, sinRows, 1)
                return out
            }
        }
    }

    /// LayerNorm with and without a bias against the float64 formula, on rows offset from zero (the mean matters).
    func testLayerNorm() {
        for d in [1, 17, 64, 100, 640, 1100] {
            let rows = 3
            let x = randomValues(rows * d, scale: 2, seed: 500 + UInt64(d)).map { $0 + 3 }
            let weight = randomValues(d, scale: 1, seed: 600 + UInt64(d)).map { 1 + $0 }
            let bias = randomValues(d, scale: 1, seed: 700 + UInt64(d))
            for withBias in [true, false] {
                var y = [Float](repeating: 0, count: rows * d)
                bias.withUnsafeBufferPointer { b in
                    kernels(0).layernorm(x, weight, withBias ? b.baseAddress : nil, &y, Int64(rows), Int64(d), 1e-5)
                }
                for r in 0..<rows {
                    let row = x[(r * d)..<((r + 1) * d)].map(Double.init)
                    let expected = ReferenceOps.layernorm(row, weight.map(Double.init), withBias ? bias.map(Double.init) : nil, eps: 1e-5)
                    for i in 0..<d {
                        XCTAssertEqual(Double(y[r * d + i]), expected[i], accuracy: 2e-6 * max(1, abs(expected[i])),
                                       "layernorm \(d) bias \(withBias) row \(r) [\(i)]")
                    }
                }
                assertVariantsAgree("layernorm \(d) bias \(withBias)") { k in
                    var out = [Float](repeating: 0, count: rows * d)
                    bias.withUnsafeBufferPointer { b in
                        k.layernorm(x, weight, withBias ? b.baseAddress : nil, &out, Int64(rows), Int64(d), 1e-5)
                    }
                    return out
                }
            }
        }
    }

    /// GELU-tanh, its slope, GeGLU and its backward against float64 formulas (tanh form, derivative by hand), over
    /// values out to where the sigmoid saturates.
    func testGeluTanhAndGeGLU() {
        func gelu(_ x: Double) -> Double { ReferenceOps.activation(.geluTanh, x) }
        func slope(_ x: Double) -> Double {
            let c = (2 / Double.pi).squareRoot(), t = tanh(c * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        }
        for n in Self.lengths {
            let x = randomValues(n, scale: 12, seed: 800 + UInt64(n)), up = randomValues(n, scale: 3, seed: 900 + UInt64(n))
            let dy = randomValues(n, scale: 2, seed: 1000 + UInt64(n))
            var plain = x, dx = dy, gated = x
            var dGate = [Float](repeating: 0, count: n), dUp = dGate
            kernels(0).gelu_tanh(&plain, Int64(n))
            kernels(0).gelu_tanh_backward(x, &dx, Int64(n))
            kernels(0).geglu(&gated, up, Int64(n))
            kernels(0).geglu_backward(dy, x, up, &dGate, &dUp, Int64(n))
            for i in 0..<n {
                let g = Double(x[i]), u = Double(up[i]), d = Double(dy[i])
                func check(_ value: Float, _ expected: Double, _ what: String) {
                    XCTAssertEqual(Double(value), expected, accuracy: 1e-6 * max(1, abs(expected)), "\(what) \(n) [\(i)] x \(g)")
                }
                check(plain[i], gelu(g), "gelu")
                check(dx[i], d * slope(g), "gelu backward")
                check(gated[i], gelu(g) * u, "geglu")
                check(dGate[i], d * u * slope(g), "geglu d_gate")
                check(dUp[i], d * gelu(g), "geglu d_up")
            }
            assertVariantsAgree("gelu and geglu \(n)") { k in
                var p = x, b = dy, q = x, dg = [Float](repeating: 0, count: n), du = dg
                k.gelu_tanh(&p, Int64(n))
                k.gelu_tanh_backward(x, &b, Int64(n))
                k.geglu(&q, up, Int64(n))
                k.geglu_backward(dy, x, up, &dg, &du, Int64(n))
                return p + b + q + dg + du
            }
        }
        // Far into either tail: 0 and x, slopes 0 and 1, never NaN.
        var tails: [Float] = [-60, -20, 20, 60], slopes: [Float] = [1, 1, 1, 1]
        kernels(0).gelu_tanh_backward(tails, &slopes, 4)
        kernels(0).gelu_tanh(&tails, 4)
        for (value, expected) in zip(tails + slopes, [0, 0, 20, 60, 0, 0, 1, 1] as [Double]) {
            XCTAssertEqual(Double(value), expected, accuracy: 1e-30)
        }
    }

    /// The chosen variant is the one `mop inspect` names (MOP_KERNEL_ISA can lower it).
    func testChosenVariantIsTheNamedOne() {
        let named = Int32(Self.isaNames.firstIndex(of: QuantKernels.isa)!)
        XCTAssertEqual(mop_vector_kernels_for(-1), mop_vector_kernels_for(named))
    }
}
