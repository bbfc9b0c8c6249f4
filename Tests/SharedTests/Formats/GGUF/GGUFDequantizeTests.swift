import XCTest
@testable import Shared

/// Hand-built blocks with hand-computed values. f16 bit patterns used: 0x3C00 = 1, 0x4000 = 2, 0x3800 = 0.5,
/// 0x3400 = 0.25, 0xBC00 = -1, 0xC000 = -2, 0x3555 = 0.333251953125, 0x0001 = 2^-24, 0x7BFF = 65504.
final class GGUFDequantizeTests: XCTestCase {
    private func dequantize(_ bytes: [UInt8], _ type: GGUFTensorType, _ count: Int) throws -> [Float] {
        try bytes.withUnsafeBytes { try GGUFDequantize.dequantize($0, type: type, count: count, file: "blocks.gguf") }
    }

    func testF32() throws {
        let bytes = [UInt8].le(Float(1.5).bitPattern) + .le(Float(-2.25).bitPattern) + .le(Float(3e-7).bitPattern)
        XCTAssertEqual(try dequantize(bytes, .f32, 3), [1.5, -2.25, 3e-7])
    }

    func testF16IncludingSubnormalAndMax() throws {
        let bytes: [UInt8] = [0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF].flatMap { [UInt8].half($0) }
        XCTAssertEqual(try dequantize(bytes, .f16, 5), [1, -2, 0.333251953125, 5.9604644775390625e-08, 65504])
    }

    func testBF16IsTheTopHalfOfF32() throws {
        // 0x3F80 -> 1.0, 0xC040 -> -3.0, 0x4049 -> 0x40490000 = 3.140625
        let bytes: [UInt8] = [0x3F80, 0xC040, 0x4049].flatMap { [UInt8].le(UInt16($0)) }
        XCTAssertEqual(try dequantize(bytes, .bf16, 3), [1, -3, 3.140625])
    }

    func testQ8_0TwoBlocksWithTheirOwnScales() throws {
        // Block 0: d = 0.5, q[j] = j - 16 except q[0] = -128 and q[31] = 127. Block 1: d = 0.25, q[j] = 3.
        var q0 = (0..<32).map { Int8($0 - 16) }
        q0[0] = -128
        q0[31] = 127
        let bytes = [UInt8].half(0x3800) + q0.map { UInt8(bitPattern: $0) } + [UInt8].half(0x3400) + [UInt8](repeating: 3, count: 32)
        XCTAssertEqual(bytes.count, 2 * 34)
        var expected: [Float] = [-64] + (1..<31).map { Float($0 - 16) * 0.5 } + [63.5]
        expected += [Float](repeating: 0.75, count: 32)
        XCTAssertEqual(try dequantize(bytes, .q8_0, 64), expected)
    }

    func testQ4_0NibbleOrderAndOffset() throws {
        // d = 2; byte j = low nibble j, high nibble 15 - j. Element j = (j - 8) * 2, element j + 16 = (15 - j - 8) * 2.
        let quants = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let bytes = [UInt8].half(0x4000) + quants
        let expected: [Float] = [-16, -14, -12, -10, -8, -6, -4, -2, 0, 2, 4, 6, 8, 10, 12, 14,
                                 14, 12, 10, 8, 6, 4, 2, 0, -2, -4, -6, -8, -10, -12, -14, -16]
        XCTAssertEqual(try dequantize(bytes, .q4_0, 32), expected)
    }

    func testQ4_1NibbleOrderScaleAndMinAcrossTwoBlocks() throws {
        // Block 0: d = 0.5, m = -1; byte j = low j, high 15 - j: element j = j/2 - 1, element j + 16 = (15 - j)/2 - 1.
        // Block 1: d = 1, m = 0.25; every byte 0x3A: low nibble 10 -> 10.25, high nibble 3 -> 3.25.
        let block0 = [UInt8].half(0x3800) + .half(0xBC00) + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let block1 = [UInt8].half(0x3C00) + .half(0x3400) + [UInt8](repeating: 0x3A, count: 16)
        let expected: [Float] = [-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5,
                                 6.5, 6, 5.5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5, -1]
            + [Float](repeating: 10.25, count: 16) + [Float](repeating: 3.25, count: 16)
        XCTAssertEqual(try dequantize(block0 + block1, .q4_1, 64), expected)
    }

    func testQ4_1UsesTheF16ScaleNotARoundedOne() throws {
        // d = 0.333251953125 (0x3555), m = -1: nibble 3 -> 3 * d - 1, computed here in Float as ggml does.
        let bytes = [UInt8].half(0x3555) + .half(0xBC00) + [UInt8](repeating: 0x33, count: 16)
        let value = Float(3) * Float(0.333251953125) - 1
        XCTAssertEqual(try dequantize(bytes, .q4_1, 32), [Float](repeating: value, count: 32))
    }

    func testWrongByteCountAndUnsupportedTypeAreErrors() {
        assertMopError("blocks.gguf", "do not hold 32 elements of type Q8_0") { try dequantize([UInt8](repeating: 0, count: 33), .q8_0, 32) }
        assertMopError("blocks.gguf", "do not hold 16 elements of type Q4_0") { try dequantize([UInt8](repeating: 0, count: 18), .q4_0, 16) }
        assertMopError("blocks.gguf", "tensor type IQ2_XXS is not supported (supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, BF16)") {
            try dequantize([UInt8](repeating: 0, count: 66), .iq2_xxs, 256)
        }
    }

    func testTruncatedKQuantBlocksAreErrors() {
        // One byte short of a whole super-block, and one block's bytes for two blocks' elements.
        assertMopError("blocks.gguf", "143 bytes do not hold 256 elements of type Q4_K") { try dequantize([UInt8](repeating: 0, count: 143), .q4_K, 256) }
        assertMopError("blocks.gguf", "210 bytes do not hold 512 elements of type Q6_K") { try dequantize([UInt8](repeating: 0, count: 210), .q6_K, 512) }
        assertMopError("blocks.gguf", "22 bytes do not hold 64 elements of type Q5_0") { try dequantize([UInt8](repeating: 0, count: 22), .q5_0, 64) }
    }
}
