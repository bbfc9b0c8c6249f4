import XCTest
@testable import Shared

/// The element-wise kernels split a prefill's worth of values among the threads; every value must be what one
/// thread computes alone.
final class VectorMathTests: XCTestCase {
    func testSplitSwiGLUAndRMSNormChangeNoValue() {
        var random = SeededRandom(seed: 21)
        let count = 3 * VectorMath.parallelElements + 13  // several threads' share and a tail past the SIMD groups
        let up = (0..<count).map { _ in random.uniform(4) }
        var gate = (0..<count).map { _ in random.uniform(4) }
        let expected = zip(gate, up).map { g, u in g / (1 + VectorMath.exp(-g)) * u }
        gate.withUnsafeMutableBufferPointer { gp in
            up.withUnsafeBufferPointer { VectorMath.swiGLU(gate: gp.baseAddress!, up: $0.baseAddress!, count: count) }
        }
        XCTAssertEqual(gate.map(\.bitPattern), expected.map(\.bitPattern))

        let d = 96, rows = 2 * VectorMath.parallelElements / d + 5
        let x = (0..<(rows * d)).map { _ in random.uniform(2) }
        let weight = Tensor(shape: [d], data: (0..<d).map { _ in 1 + random.uniform(0.5) })
        let y = RMSNorm.forward(x, rows: rows, weight: weight, eps: 1e-5)
        for r in [0, rows / 2, rows - 1] {
            let row = Array(x[(r * d)..<((r + 1) * d)])
            XCTAssertEqual(RMSNorm.forward(row, rows: 1, weight: weight, eps: 1e-5).map(\.bitPattern),
                           y[(r * d)..<((r + 1) * d)].map(\.bitPattern), "row \(r)")
        }
    }
}
