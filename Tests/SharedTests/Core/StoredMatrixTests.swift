import XCTest
@testable import Shared

/// Weights kept as stored must give exactly the fp32 path's values, and its products to 1e-6; row and column lists
/// (pruning, GGUF's Q/K order) must select what the same gather of the fp32 matrix selects.
final class StoredMatrixTests: XCTestCase {
    /// Random blocks of `type` for a [rows, columns] matrix: every byte random except the f16 scales (and mins),
    /// which are set to small finite values so no block decodes to NaN or infinity.
    private func randomMatrix(_ type: GGUFTensorType, rows: Int, columns: Int, seed: UInt64) -> StoredMatrix {
        var random = SeededRandom(seed: seed)
        var bytes = (0..<(rows * type.byteCount(elements: columns)!)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let scaleOffsets: [Int] = switch type {
        case .q8_0, .q4_0, .q5_0: [0]
        case .q4_1, .q5_1: [0, 2]
        case .q4_K, .q5_K: [0, 2]
        case .q6_K: [208]
        case .f16: [0]
        default: []
        }
        for block in stride(from: 0, to: bytes.count, by: type.blockBytes) {
            for offset in scaleOffsets where block + offset + 1 < bytes.count {
                // 0x2C00 + small: f16 values near 0.06, positive or negative.
                let half = UInt16(0x2C00 + Int(random.next() % 0x300)) | UInt16(random.next() % 2) << 15
                bytes[block + offset] = UInt8(half & 0xFF)
                bytes[block + offset + 1] = UInt8(half >> 8)
            }
        }
        let file = MappedFile(bytes: [UInt8](repeating: 7, count: 24) + bytes, path: "random.gguf")
        return StoredMatrix(source: file, offset: 24, type: type, rows: rows, columns: columns)!
    }

    private func dequantizedWhole(_ matrix: StoredMatrix) throws -> [Float] {
        let raw = try matrix.source.bytes(at: matrix.offset, length: matrix.rowBytes * matrix.storedRows, what: "all")
        return try GGUFDequantize.dequantize(raw, type: matrix.type, count: matrix.storedRows * matrix.storedColumns, file: "t")
    }

    private func assertClose(_ a: [Float], _ b: [Float], tolerance: Double = 1e-6, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        let scale = max(1e-30, b.reduce(0) { max($0, Double(abs($1))) })
        let worst = zip(a, b).reduce(0.0) { max($0, Double(abs($1.0 - $1.1))) }
        XCTAssertLessThanOrEqual(worst / scale, tolerance, file: file, line: line)
    }

    func testRowsDecodeToExactlyTheDequantizedValues() throws {
        for type in [GGUFTensorType.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K] {
            let matrix = randomMatrix(type, rows: 5, columns: 512, seed: UInt64(type.rawValue) + 1)
            let values = matrix.dequantized()
            let reference = try dequantizedWhole(matrix)
            XCTAssertEqual(values.count, 5 * 512)
            XCTAssert(zip(values, reference).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }, "\(type)")
            XCTAssertEqual(matrix.bytesHeld, 5 * type.byteCount(elements: 512)!)
        }
    }

    func testAnOutOfRangeMatrixIsRefused() {
        let file = MappedFile(bytes: [UInt8](repeating: 0, count: 100), path: "short.gguf")
        XCTAssertNil(StoredMatrix(source: file, offset: 0, type: .q8_0, rows: 3, columns: 32))   // 102 bytes
        XCTAssertNotNil(StoredMatrix(source: file, offset: 32, type: .q8_0, rows: 2, columns: 32))  // 68 bytes
        XCTAssertNil(StoredMatrix(source: file, offset: 0, type: .q8_0, rows: 1, columns: 31))    // not whole blocks
        XCTAssertNil(StoredMatrix(source: file, offset: 0, type: .iq2_xs, rows: 1, columns: 256))  // not decodable
    }

    func testRowAndColumnListsGatherLikeTheDenseMatrix() {
        let stored = Tensor(stored: randomMatrix(.q4_1, rows: 12, columns: 96, seed: 3))
        let dense = Tensor(shape: stored.shape, data: stored.data)
        XCTAssertNil(dense.stored)
        // Blocks of rows then columns, twice over, in a non-monotone order: lists compose.
        let pruned = stored.gatheringRows([5, 0, 3], blockSize: 2).gatheringColumns([2, 0], blockSize: 16)
            .gatheringRows([2, 0], blockSize: 1)
        let reference = dense.gatheringRows([5, 0, 3], blockSize: 2).gatheringColumns([2, 0], blockSize: 16)
            .gatheringRows([2, 0], blockSize: 1)
        XCTAssertNotNil(pruned.stored)
        XCTAssertEqual(pruned.shape, [2, 32])
        XCTAssertEqual(pruned.data, reference.data)
        XCTAssertEqual(pruned, reference)
        // One token's product (the fused decode-and-dot) and several tokens' (panels) over the lists.
        var random = SeededRandom(seed: 10)
        for rows in [1, 4] {
            let x = (0..<(rows * 32)).map { _ in random.uniform(1) }
            assertClose(BLAS.linear(x, rows: rows, pruned), BLAS.linear(x, rows: rows, reference))
        }
        // Q/K rows in GGUF order are a row list too.
        let permuted = GGUFRopeOrder.toHF(stored, heads: 2, headDim: 6)
        XCTAssertNotNil(permuted.stored)
        XCTAssertEqual(permuted.data, GGUFRopeOrder.toHF(dense, heads: 2, headDim: 6).data)
    }

    func testProductsEqualTheFp32Path() {
        // 300 x 256 Q4_K rows; panels of 64 rows so the product spans five panels, the last one short.
        let stored = Tensor(stored: randomMatrix(.q4_K, rows: 300, columns: 256, seed: 4))
        let dense = Tensor(shape: stored.shape, data: stored.data)
        var random = SeededRandom(seed: 9)
        for rows in [1, 3, 70] {
            let x = (0..<(rows * 256)).map { _ in random.uniform(1) }
            assertClose(BLAS.linear(x, rows: rows, stored), BLAS.linear(x, rows: rows, dense))
            var y = (0..<(rows * 300)).map { _ in random.uniform(1) }, yDense = y
            BLAS.addLinear(x, rows: rows, weight: stored, into: &y)
            BLAS.addLinear(x, rows: rows, weight: dense, into: &yDense)
            assertClose(y, yDense)
            let g = (0..<(rows * 300)).map { _ in random.uniform(1) }
            var dx = [Float](repeating: 0.5, count: rows * 256), dxDense = dx
            BLAS.multiply(g, rows: rows, by: stored, into: &dx, accumulate: true)
            BLAS.multiply(g, rows: rows, by: dense, into: &dxDense, accumulate: true)
            assertClose(dx, dxDense)
        }
        var panelled = [Float](repeating: 0, count: 70 * 300)
        let x = (0..<(70 * 256)).map { _ in random.uniform(1) }
        x.withUnsafeBufferPointer { xp in
            panelled.withUnsafeMutableBufferPointer { yp in
                StoredProducts.linear(xp.baseAddress!, rows: 70, weight: stored.stored!, beta: 0, into: yp.baseAddress!, panelRows: 64)
            }
        }
        assertClose(panelled, BLAS.linear(x, rows: 70, dense))
    }

    func testADecodedRowDotSumsInAFixedOrder() {
        // 16 lanes then a fixed tree: the same for any split of rows among threads, and close to a float64 dot.
        let matrix = randomMatrix(.q8_0, rows: 40, columns: 160, seed: 5)
        var random = SeededRandom(seed: 6)
        let x = (0..<160).map { _ in random.uniform(1) }
        var whole = [Float](repeating: 0, count: 40), split = whole
        x.withUnsafeBufferPointer { xp in
            whole.withUnsafeMutableBufferPointer { RowDot.rows(matrix, 0..<40, x: xp.baseAddress!, beta: 0, into: $0.baseAddress!) }
            split.withUnsafeMutableBufferPointer { yp in
                for range in [0..<7, 7..<8, 8..<40] { RowDot.rows(matrix, range, x: xp.baseAddress!, beta: 0, into: yp.baseAddress!) }
            }
        }
        XCTAssertEqual(whole.map(\.bitPattern), split.map(\.bitPattern))
        let values = matrix.dequantized()
        let reference = (0..<40).map { r in Float((0..<160).reduce(0.0) { $0 + Double(values[r * 160 + $1]) * Double(x[$1]) }) }
        assertClose(whole, reference, tolerance: 1e-5)
    }

    func testStorageModesHoldTheirBytesAndValues() {
        let matrix = randomMatrix(.q4_0, rows: 6, columns: 64, seed: 7)
        let fp32 = WeightStorage.fp32.hold(matrix), stored = WeightStorage.stored.hold(matrix)
        let bf16 = WeightStorage.bf16.hold(matrix)
        XCTAssertNil(fp32.stored)
        XCTAssertEqual(fp32.bytesHeld, 6 * 64 * 4)
        XCTAssertEqual(stored.bytesHeld, 6 * 2 * 18)
        XCTAssertEqual(bf16.stored?.type, .bf16)
        XCTAssertEqual(bf16.bytesHeld, 6 * 64 * 2)
        XCTAssertEqual(stored.data, fp32.data)
        let rounded = fp32.data.map { Float(bitPattern: UInt32(SafetensorsDType.floatToBFloat16($0)) << 16) }
        XCTAssertEqual(bf16.data, rounded)
    }

    func testWritingValuesTurnsAStoredTensorIntoFp32() {
        var tensor = Tensor(stored: randomMatrix(.q8_0, rows: 2, columns: 32, seed: 8))
        let before = tensor.data
        tensor.data[3] += 1
        XCTAssertNil(tensor.stored)
        XCTAssertEqual(tensor.data[3], before[3] + 1)
        XCTAssertEqual(tensor.data[4], before[4])
        var rows = [Float](repeating: 0, count: 32)
        tensor.copyRows(1..<2, into: &rows)
        XCTAssertEqual(rows, Array(before[32..<64]))
    }
}
