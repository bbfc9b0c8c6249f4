import XCTest
@testable import Shared

/// `GGUFQuantize` against ggml's `quantize_row_q8_0_ref` spelled out naively here (its loops, its Float operations,
/// roundf's halves away from zero, d through Swift's own Float16), and read back by `GGUFDequantize`.
final class GGUFQuantizeTests: XCTestCase {
    /// ggml-quants.c, quantize_row_q8_0_ref, one block of 32.
    private func reference(_ x: [Float]) -> [UInt8] {
        var amax: Float = 0
        for v in x { amax = max(amax, abs(v)) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        var bytes = withUnsafeBytes(of: Float16(d).bitPattern.littleEndian) { Array($0) }
        for v in x { bytes.append(UInt8(bitPattern: Int8((v * id).rounded(.toNearestOrAwayFromZero)))) }
        return bytes
    }

    private func encoded(_ values: [Float], as type: GGUFTensorType = .q8_0) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xAA, count: type.byteCount(elements: values.count)!)
        values.withUnsafeBufferPointer { input in
            bytes.withUnsafeMutableBytes { GGUFQuantize.encode(input, as: type, into: $0) }
        }
        return bytes
    }

    private func decoded(_ bytes: [UInt8], type: GGUFTensorType = .q8_0, count: Int) throws -> [Float] {
        try bytes.withUnsafeBytes { try GGUFDequantize.dequantize($0, type: type, count: count, file: "test") }
    }

    func testBlocksEqualTheNaiveReference() throws {
        var random = SeededRandom(seed: 11)
        let blocks: [[Float]] = [
            [Float](repeating: 0, count: 32),                                      // all zeros: d = 0, id = 0, q = 0
            [1000] + (1..<32).map { Float($0) * 0.37 - 5 },                        // one huge value: the rest round small
            (0..<32).map { -Float($0) - 0.25 },                                    // all negative
            // amax 127 makes d = 1 and id = 1: x * id is exactly the halves, which roundf takes away from zero.
            [127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5] + [Float](repeating: 3.5, count: 23),
            (0..<32).map { _ in random.uniform(0.02) },                              // a weight-like block
            [1e30] + [Float](repeating: 1, count: 31),                              // d overflows fp16 to infinity, as in ggml
        ]
        for (index, block) in blocks.enumerated() {
            XCTAssertEqual(encoded(block), reference(block), "block \(index)")
        }
        // Several blocks in one call land one after the other.
        XCTAssertEqual(encoded(blocks.flatMap { $0 }), blocks.flatMap(reference))
        // The ties really are ties: 2.5 -> 3 and -2.5 -> -3, where rounding to even would give 2 and -2.
        XCTAssertEqual(Array(encoded(blocks[3])[2..<9]).map { Int8(bitPattern: $0) }, [127, 1, -1, 2, -2, 3, -3])
    }

    /// A block so small that 1 / d overflows gives ggml's x86-64 bytes (d stored as zero, q = 0) instead of trapping.
    func testBlockBelowTheReciprocalRangeDoesNotTrap() throws {
        let block = [Float(1e-40)] + [Float](repeating: 0, count: 31)
        XCTAssertEqual(encoded(block), [UInt8](repeating: 0, count: 34))
        XCTAssertEqual(GGUFQuantize.int8(roundingAwayFromZero: .infinity), 0)
        XCTAssertEqual(GGUFQuantize.int8(roundingAwayFromZero: .nan), 0)
        XCTAssertEqual(GGUFQuantize.int8(roundingAwayFromZero: -127.5), -128)
    }

    /// What GGUFDequantize reads back is q * fp16(d), within half a step (plus d's fp16 rounding) of the input.
    func testDequantizeReadsQ8_0BackWithinHalfAStep() throws {
        var random = SeededRandom(seed: 5)
        // Blocks of different scales, so d takes many fp16 roundings.
        let values = (0..<32 * 64).map { i in random.uniform(0.01 * Float(1 + i / 32)) }
        let back = try decoded(encoded(values), count: values.count)
        for block in 0..<64 {
            let slice = values[(32 * block)..<(32 * block + 32)]
            let d = slice.map(abs).max()! / 127, stored = Float(Float16(d))
            for i in slice.indices {
                XCTAssertLessThanOrEqual(abs(values[i] - back[i]), d / 2 * (1 + 1e-6) + 127 * abs(d - stored), "element \(i)")
            }
        }
    }

    /// The float types go through SafetensorsDType's encodings: BF16 and F16 round to nearest even, F32 is exact.
    func testFloatTypesAreTheSafetensorsEncodings() throws {
        var random = SeededRandom(seed: 9)
        let values = (0..<100).map { _ in random.uniform(3) }
        for type in [GGUFTensorType.f32, .f16, .bf16] {
            let dtype = try XCTUnwrap(SafetensorsDType(ggufType: type))
            var expected = [UInt8](repeating: 0, count: values.count * dtype.size)
            values.withUnsafeBufferPointer { input in expected.withUnsafeMutableBytes { dtype.encode(input, into: $0) } }
            XCTAssertEqual(encoded(values, as: type), expected, type.name)
        }
        let bf16 = try decoded(encoded(values, as: .bf16), type: .bf16, count: values.count)
        XCTAssertEqual(bf16, values.map { Float(bitPattern: UInt32(SafetensorsDType.floatToBFloat16($0)) << 16) })
        XCTAssertEqual(try decoded(encoded(values, as: .f32), type: .f32, count: values.count), values)
    }

    func testSupportedTypes() {
        XCTAssertEqual(GGUFTensorType.allCases.filter(GGUFQuantize.supports), [.f32, .f16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K, .bf16])
        XCTAssertNil(SafetensorsDType(ggufType: .q8_0))
        XCTAssertEqual(SafetensorsDType.allCases.map { SafetensorsDType(ggufType: $0.ggufType) }, SafetensorsDType.allCases)
    }
}
