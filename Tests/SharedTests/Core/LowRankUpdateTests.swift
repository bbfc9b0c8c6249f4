import XCTest
@testable import Shared

/// A stored matrix carrying a low-rank update reads, panels and multiplies as the fp32 matrix W + scale B A that a
/// naive loop builds, and holds the stored bytes plus the factors only.
final class LowRankUpdateTests: XCTestCase {
    let rows = 6, columns = 64, rank = 3, scale: Float = 0.75

    /// A Q8_0 matrix (random quants, scale 1/64) and an update of random factors.
    func operands(seed: UInt64) -> (stored: StoredMatrix, update: LowRankUpdate) {
        var random = SeededRandom(seed: seed)
        var bytes: [UInt8] = []
        for _ in 0..<(rows * columns / 32) {
            bytes += [0x00, 0x24]  // f16 1/64
            bytes += (0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        }
        let stored = StoredMatrix(source: MappedFile(bytes: bytes, path: "w.gguf"), offset: 0, type: .q8_0, rows: rows, columns: columns)!
        let update = LowRankUpdate(b: (0..<(rows * rank)).map { _ in random.uniform(1) },
                                   a: (0..<(rank * columns)).map { _ in random.uniform(1) },
                                   rank: rank, scale: scale, rows: rows, columns: columns)
        return (stored, update)
    }

    /// W + scale B A, element by element in float64.
    func naive(_ stored: StoredMatrix, _ update: LowRankUpdate) -> [Float] {
        let w = stored.dequantized()
        return (0..<(rows * columns)).map { index in
            let (i, j) = (index / columns, index % columns)
            let delta = (0..<rank).reduce(0.0) { $0 + Double(update.b[i * rank + $1]) * Double(update.a[$1 * columns + j]) }
            return Float(Double(w[index]) + Double(scale) * delta)
        }
    }

    func assertClose(_ got: [Float], _ want: [Float], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, message, file: file, line: line)
        for (x, y) in zip(got, want) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), message, file: file, line: line) }
    }

    func testReadsAndProductsEqualTheAddedUpMatrix() {
        let (stored, update) = operands(seed: 1)
        let tensor = Tensor(stored: stored, adding: update)
        let expected = naive(stored, update), dense = Tensor(shape: [rows, columns], data: expected)
        XCTAssertNil(tensor.stored, "the stored bytes alone are not the values")
        XCTAssertEqual(tensor.lowRank, update)
        assertClose(tensor.data, expected, "data")
        XCTAssertNotEqual(Tensor(stored: stored).data, tensor.data)
        var rowsRead = [Float](repeating: 0, count: 3 * columns)
        rowsRead.withUnsafeMutableBufferPointer { tensor.copyRows(2..<5, into: $0.baseAddress!) }
        assertClose(rowsRead, Array(expected[(2 * columns)..<(5 * columns)]), "rows 2..<5")
        var panels: [Float] = [], starts: [Int] = []
        tensor.forEachRowPanel(rows: 4) { panel, start in
            panels += panel
            starts.append(start)
        }
        XCTAssertEqual(starts, [0, 4])
        assertClose(panels, expected, "panels")

        var random = SeededRandom(seed: 2)
        let x = (0..<(5 * columns)).map { _ in random.uniform(1) }
        assertClose(BLAS.linear(x, rows: 5, tensor), BLAS.linear(x, rows: 5, dense), "linear")
        var added = [Float](repeating: 1, count: 5 * rows), addedDense = added
        BLAS.addLinear(x, rows: 5, weight: tensor, into: &added)
        BLAS.addLinear(x, rows: 5, weight: dense, into: &addedDense)
        assertClose(added, addedDense, "addLinear")
        let dy = (0..<(5 * rows)).map { _ in random.uniform(1) }
        var dx = [Float](repeating: 2, count: 5 * columns), dxDense = dx
        BLAS.multiply(dy, rows: 5, by: tensor, into: &dx, accumulate: true)
        BLAS.multiply(dy, rows: 5, by: dense, into: &dxDense, accumulate: true)
        assertClose(dx, dxDense, "multiply")
    }

    func testHoldsTheBytesAndFactorsAndMaterializesOnWrite() {
        let (stored, update) = operands(seed: 3)
        var tensor = Tensor(stored: stored, adding: update)
        XCTAssertEqual(tensor.bytesHeld, stored.bytesHeld + (rows * rank + rank * columns) * 4)
        let expected = tensor.data
        XCTAssertEqual(tensor, Tensor(shape: [rows, columns], data: expected))
        XCTAssertNotEqual(tensor, Tensor(stored: stored), "same bytes, not the same values")
        tensor.data[0] += 1
        XCTAssertNil(tensor.lowRank)
        XCTAssertEqual(tensor.bytesHeld, rows * columns * 4)
        XCTAssertEqual(tensor.data[0], expected[0] + 1)
        XCTAssertEqual(Array(tensor.data[1...]), Array(expected[1...]))
    }
}
