import Foundation
import XCTest
@testable import Shared

/// Every dequantizable type against gguf-py, bit for bit: Fixtures/quant-blocks.json holds seeded random blocks and
/// the float32 values `gguf.quants.dequantize` gave for them (made by scripts/make-quant-fixture.py).
final class GGUFQuantFixtureTests: XCTestCase {
    struct Case: Decodable {
        let type: String
        let count: Int
        let bytes: String
        let expected: String
    }

    struct Fixture: Decodable {
        let cases: [Case]
    }

    static let fixture: Fixture = {
        let url = RealInputs.fixture("quant-blocks.json")
        // A missing or broken fixture is a broken checkout: fail loudly.
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    private func fixtureCase(_ type: GGUFTensorType) throws -> Case {
        try XCTUnwrap(Self.fixture.cases.first { $0.type == type.name }, "no \(type.name) case in quant-blocks.json")
    }

    /// Dequantizes the fixture's blocks of `type` and compares every float's bit pattern with gguf-py's.
    private func assertMatchesGGUFPy(_ type: GGUFTensorType, file: StaticString = #filePath, line: UInt = #line) throws {
        let entry = try fixtureCase(type)
        let raw = Self.hex(entry.bytes)
        let expected = Self.hex(entry.expected).withUnsafeBytes { bytes in
            (0..<entry.count).map { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
        XCTAssertGreaterThanOrEqual(entry.count, 2 * type.blockSize, "at least two blocks", file: file, line: line)
        let values = try raw.withUnsafeBytes { try GGUFDequantize.dequantize($0, type: type, count: entry.count, file: "fixture") }
        let mismatches = zip(values, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1 }
        XCTAssertEqual(values.count, expected.count, file: file, line: line)
        if let first = mismatches.first {
            XCTFail("\(type.name): \(mismatches.count) of \(entry.count) differ; first at \(first.offset): "
                    + "\(first.element.0) vs gguf-py \(Float(bitPattern: first.element.1))", file: file, line: line)
        }
    }

    func testF16() throws { try assertMatchesGGUFPy(.f16) }
    func testBF16() throws { try assertMatchesGGUFPy(.bf16) }
    func testQ4_0() throws { try assertMatchesGGUFPy(.q4_0) }
    func testQ4_1() throws { try assertMatchesGGUFPy(.q4_1) }
    func testQ5_0() throws { try assertMatchesGGUFPy(.q5_0) }
    func testQ5_1() throws { try assertMatchesGGUFPy(.q5_1) }
    func testQ8_0() throws { try assertMatchesGGUFPy(.q8_0) }
    func testQ2_K() throws { try assertMatchesGGUFPy(.q2_K) }
    func testQ3_K() throws { try assertMatchesGGUFPy(.q3_K) }
    func testQ4_K() throws { try assertMatchesGGUFPy(.q4_K) }
    func testQ5_K() throws { try assertMatchesGGUFPy(.q5_K) }
    func testQ6_K() throws { try assertMatchesGGUFPy(.q6_K) }

    func testEveryDequantizableTypeHasAFixtureCase() {
        let covered = Set(Self.fixture.cases.map(\.type))
        // F32 is a plain reinterpretation, tested by hand in GGUFDequantizeTests.
        let missing = GGUFTensorType.allCases.filter { $0.isDequantizable && $0 != .f32 && !covered.contains($0.name) }
        XCTAssertEqual(missing, [])
    }

    /// ggml's get_scale_min_k4 on hand-packed bytes: 0-3 hold scales 0-3 (low 6 bits) and the top bits of scales 4-7;
    /// 4-7 the same for the mins; 8-11 the low nibbles of scales 4-7 and, in their high nibbles, of mins 4-7.
    func testScaleMinK4Unpacking() {
        let scales = (0..<8).map { UInt8(5 * $0 + 3) }, mins = (0..<8).map { UInt8(63 - 7 * $0) }
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            packed[j] = scales[j] | (scales[j + 4] >> 4) << 6
            packed[j + 4] = mins[j] | (mins[j + 4] >> 4) << 6
            packed[j + 8] = (scales[j + 4] & 0x0F) | (mins[j + 4] & 0x0F) << 4
        }
        packed.withUnsafeBytes { raw in
            for j in 0..<8 {
                let (scale, min) = GGUFDequantize.scaleMinK4(raw.baseAddress!, j)
                XCTAssertEqual(scale, scales[j], "scale \(j)")
                XCTAssertEqual(min, mins[j], "min \(j)")
            }
        }
    }

    /// Q3_K's 16 6-bit scales: low nibbles in bytes 0-7 (scales 0-7 low, 8-15 high nibble), top 2 bits in bytes 8-11.
    func testQ3KScaleUnpacking() {
        let scales = (0..<16).map { -32 + 4 * $0 - $0 % 3 }
        var packed = [UInt8](repeating: 0, count: 12)
        for (j, scale) in scales.enumerated() {
            let stored = UInt8(scale + 32)
            packed[j % 8] |= (stored & 0x0F) << (j < 8 ? 0 : 4)
            packed[8 + j % 4] |= (stored >> 4) << UInt8(2 * (j / 4))
        }
        packed.withUnsafeBytes { raw in
            XCTAssertEqual((0..<16).map { GGUFDequantize.q3KScale(raw.baseAddress!, $0) }, scales)
        }
    }

    /// A K-quant tensor read through GGUFFile: two rows of one Q6_K super-block each, in its row-major shape.
    func testKQuantTensorThroughGGUFFile() throws {
        let directory = try GGUFTemporaryDirectory()
        defer { directory.remove() }
        let entry = try fixtureCase(.q6_K)
        let raw = Self.hex(entry.bytes)
        let data = Array(raw.prefix(2 * GGUFTensorType.q6_K.blockBytes))
        let tensors = [(name: "blk.0.ffn_down.weight", dims: [UInt64(256), 2], type: GGUFTensorType.q6_K.rawValue, offset: UInt64(0))]
        let header = GGUFHandBuilt.header(metadata: [], tensors: tensors)
        let padded = header + [UInt8](repeating: 0, count: (32 - header.count % 32) % 32) + data
        let path = directory.file("q6k.gguf")
        try Data(padded).write(to: URL(fileURLWithPath: path))
        let file = try GGUFFile(path: path)
        let tensor = try file.dequantize(try XCTUnwrap(file.tensor(named: "blk.0.ffn_down.weight")))
        let direct = try data.withUnsafeBytes { try GGUFDequantize.dequantize($0, type: .q6_K, count: 512, file: path) }
        XCTAssertEqual(tensor.shape, [2, 256])
        XCTAssertEqual(tensor.data.map(\.bitPattern), direct.map(\.bitPattern))
    }

    /// A known type mop cannot dequantize fails on use with one line naming the file, the tensor and the type.
    func testUnsupportedTypeNamesTheTensorAndType() throws {
        let directory = try GGUFTemporaryDirectory()
        defer { directory.remove() }
        let tensors = [(name: "blk.3.attn_v.weight", dims: [UInt64(256)], type: GGUFTensorType.iq2_xxs.rawValue, offset: UInt64(0))]
        let header = GGUFHandBuilt.header(metadata: [], tensors: tensors)
        let padded = header + [UInt8](repeating: 0, count: (32 - header.count % 32) % 32 + GGUFTensorType.iq2_xxs.blockBytes)
        let path = directory.file("iq2.gguf")
        try Data(padded).write(to: URL(fileURLWithPath: path))
        let file = try GGUFFile(path: path)
        let info = try XCTUnwrap(file.tensor(named: "blk.3.attn_v.weight"))
        assertMopError(path, "tensor blk.3.attn_v.weight: tensor type IQ2_XXS is not supported") { try file.dequantize(info) }
        do {
            _ = try file.dequantize(info)
        } catch {
            XCTAssertFalse("\(error)".contains("\n"), "one line")
        }
    }
}
