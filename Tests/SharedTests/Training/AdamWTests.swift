import XCTest
@testable import Shared

final class AdamWTests: XCTestCase {
    /// Two steps worked by hand (PyTorch's AdamW formulas): step 1 moves every parameter by lr * sign(g) after the
    /// decay p *= 1 - lr * wd, since m_hat = g and v_hat = g^2; step 2 for p0: m = 0.9*0.05 + 0.1*0.1 = 0.055,
    /// v = 0.999*0.00025 + 0.001*0.01 = 0.00025975, m_hat = 0.055/0.19, v_hat = 0.00025975/0.001999,
    /// p = 0.899 * (1 - 0.05*0.01) - 0.05 * m_hat / sqrt(v_hat) = 0.8583984.
    func testTwoStepsByHand() {
        var optimizer = AdamW(parameterCount: 3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01)
        var p: [Float] = [1, -2, 0.5]
        optimizer.update(&p, gradients: [0.5, -1, 0], learningRate: 0.1)
        XCTAssertEqual(optimizer.step, 1)
        for (value, expected) in zip(p, [0.899, -1.898, 0.4995]) { XCTAssertEqual(Double(value), expected, accuracy: 1e-6) }
        optimizer.update(&p, gradients: [0.1, 0.2, -0.3], learningRate: 0.05)
        for (value, expected) in zip(p, [0.8583984542, -1.8714996975, 0.5364570894]) { XCTAssertEqual(Double(value), expected, accuracy: 1e-6) }
        for (value, expected) in zip(optimizer.firstMoment, [0.055, -0.07, -0.03]) { XCTAssertEqual(Double(value), expected, accuracy: 1e-7) }
        for (value, expected) in zip(optimizer.secondMoment, [0.00025975, 0.001039, 0.00009]) { XCTAssertEqual(Double(value), expected, accuracy: 1e-9) }

        // A restored optimizer continues exactly like the original.
        var restored = AdamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: optimizer.step,
                             firstMoment: optimizer.firstMoment, secondMoment: optimizer.secondMoment)
        var q = p
        optimizer.update(&p, gradients: [1, 1, 1], learningRate: 0.01)
        restored.update(&q, gradients: [1, 1, 1], learningRate: 0.01)
        XCTAssertEqual(p, q)
    }

    func testWeightDecayIsDecoupled() {
        // Zero gradient: Adam's term is 0, only the decay acts (L2 regularisation through g would also move m and v).
        var optimizer = AdamW(parameterCount: 2, weightDecay: 0.1)
        var p: [Float] = [2, -4]
        optimizer.update(&p, gradients: [0, 0], learningRate: 0.5)
        XCTAssertEqual(p, [2 * 0.95, -4 * 0.95])
        XCTAssertEqual(optimizer.firstMoment, [0, 0])
    }

    func testLinearScheduleWithWarmup() {
        let schedule = LinearSchedule(peak: 1, totalSteps: 10, warmupSteps: 2)
        let expected: [Float] = [0, 0.5, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0, 0]
        XCTAssertEqual((0...11).map { schedule.learningRate(at: $0) }, expected)
        let plain = LinearSchedule(peak: 3e-4, totalSteps: 4)
        for (step, expected) in [3e-4, 2.25e-4, 1.5e-4, 0.75e-4, 0].enumerated() {
            XCTAssertEqual(Double(plain.learningRate(at: step)), expected, accuracy: 1e-10)
        }
    }

    func testGradientClippingByGlobalNorm() {
        var g: [Float] = [3, 0, -4]
        XCTAssertEqual(GradientClipping.clip(&g, maxNorm: 1), 5, accuracy: 1e-12)
        XCTAssertEqual(Double(g[0]), 0.6, accuracy: 1e-6)
        XCTAssertEqual(Double(g[2]), -0.8, accuracy: 1e-6)
        var small: [Float] = [0.3, 0.4]
        XCTAssertEqual(GradientClipping.clip(&small, maxNorm: 1), 0.5, accuracy: 1e-7)
        XCTAssertEqual(small, [0.3, 0.4], "a norm under the limit is left alone")
    }
}
