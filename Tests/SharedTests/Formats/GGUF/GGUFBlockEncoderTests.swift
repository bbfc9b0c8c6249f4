import Foundation
import XCTest
@testable import Shared

/// The block encoders against ggml's own: Fixtures/block-encoders.json holds hand-made rows (ordinary weights, all
/// zero, an outlier, a negative maximum, all negative, constant, mixed scales, tiny values, zero sub-blocks) and the
/// bytes `ggml_quantize_chunk` of the vendored llama.cpp gave for them, with and without an importance per column
/// (made by scripts/make-kquant-fixture.py, which also checks the 32-block types against gguf-py). Then what
/// `GGUFDequantize` reads back lies within each type's quantization error.
final class GGUFBlockEncoderTests: XCTestCase {
    struct Encoded: Decodable {
        let plain: String
        let importance: String
    }

    struct Case: Decodable {
        let name: String
        let values: String
        let encoded: [String: Encoded]
    }

    struct Fixture: Decodable {
        let columns: Int
        let importance: String
        let cases: [Case]
    }

    static let fixture: Fixture = {
        // A missing or broken fixture is a broken checkout: fail loudly.
        try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: RealInputs.fixture("block-encoders.json")))
    }()

    static func floats(_ hex: String) -> [Float] {
        GGUFQuantFixtureTests.hex(hex).withUnsafeBytes { bytes in
            (0..<bytes.count / 4).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    static let types: [GGUFTensorType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]

    private func encoded(_ values: [Float], as type: GGUFTensorType, columns: Int, importance: [Float]? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xAA, count: type.byteCount(elements: values.count)!)
        values.withUnsafeBufferPointer { input in
            bytes.withUnsafeMutableBytes { GGUFQuantize.encode(input, as: type, columns: columns, importance: importance, into: $0) }
        }
        return bytes
    }

    private func assertMatchesGGML(_ type: GGUFTensorType, withImportance: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = Self.fixture
        let importance = withImportance ? Self.floats(fixture.importance) : nil
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 10, file: file, line: line)
        for entry in fixture.cases {
            let expectedHex = try XCTUnwrap(entry.encoded["\(type)"],
                                            "\(type.name) missing for \(entry.name)", file: file, line: line)
            let expected = GGUFQuantFixtureTests.hex(withImportance ? expectedHex.importance : expectedHex.plain)
            let ours = encoded(Self.floats(entry.values), as: type, columns: fixture.columns, importance: importance)
            guard ours != expected else { continue }
            let at = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(ours.count, expected.count)
            XCTFail("\(type.name)\(withImportance ? " with importance" : ""), row \(entry.name): \(ours.count) bytes against ggml's "
                    + "\(expected.count), first difference at byte \(at) (block \(at / type.blockBytes))", file: file, line: line)
        }
    }

    func testEncodersWithoutImportanceEqualGGMLsReference() throws {
        for type in Self.types { try assertMatchesGGML(type, withImportance: false) }
    }

    func testEncodersWithImportanceEqualGGMLsImatrixEncoders() throws {
        for type in Self.types { try assertMatchesGGML(type, withImportance: true) }
    }

    /// The importance changes the bytes of the types whose encoders use it (else the test above would not tell the two
    /// paths apart), and only of those.
    func testImportanceSelectsADifferentSearch() throws {
        let entry = try XCTUnwrap(Self.fixture.cases.first { $0.name == "weights" })
        let values = Self.floats(entry.values), importance = Self.floats(Self.fixture.importance)
        for type in Self.types {
            let plain = encoded(values, as: type, columns: 512), weighted = encoded(values, as: type, columns: 512, importance: importance)
            XCTAssertEqual(plain == weighted, type == .q8_0, type.name)
        }
    }

    /// decode(encode(x)) is within each type's error: for a block of range r (or largest magnitude a), Q4_0/Q5_0 within
    /// a / 8 or a / 16, Q4_1/Q5_1 within half a step r / 30 or r / 62 plus fp16 rounding, and the K-quants within a few
    /// of their sub-block steps, measured on weight-like rows as a root-mean-square error relative to the rows' RMS.
    func testDecodedValuesAreWithinEachTypesError() throws {
        var random = SeededRandom(seed: 29)
        let columns = 1024
        let values = (0..<4 * columns).map { _ in random.uniform(0.05) }
        let rms = (values.map { Double($0 * $0) }.reduce(0, +) / Double(values.count)).squareRoot()
        // Relative RMS errors of uniform values at 4, 5, 6 and 8 bits, with room for the scales' rounding.
        let bounds: [GGUFTensorType: Double] = [.q4_0: 0.12, .q4_1: 0.08, .q5_0: 0.06, .q5_1: 0.04, .q8_0: 0.005,
                                                 .q4_K: 0.08, .q5_K: 0.04, .q6_K: 0.02]
        var errors: [GGUFTensorType: Double] = [:]
        for type in Self.types {
            let bytes = encoded(values, as: type, columns: columns)
            let decoded = try bytes.withUnsafeBytes { try GGUFDequantize.dequantize($0, type: type, count: values.count, file: "test") }
            let squared = zip(values, decoded).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
            errors[type] = (squared / Double(values.count)).squareRoot() / rms
            XCTAssertLessThan(errors[type]!, bounds[type]!, type.name)
            // Every value individually: never further than a quarter of the row's largest magnitude.
            XCTAssertLessThan(zip(values, decoded).map { abs($0 - $1) }.max()!, 0.25 * 0.05, type.name)
        }
        // More bits, smaller error: the encoders are not all the same one.
        XCTAssertLessThan(errors[.q5_K]!, errors[.q4_K]!)
        XCTAssertLessThan(errors[.q6_K]!, errors[.q5_K]!)
        XCTAssertLessThan(errors[.q5_1]!, errors[.q4_1]!)
        XCTAssertLessThan(errors[.q8_0]!, errors[.q6_K]!)
    }

    /// Rows are encoded one after the other: two rows in one call give the bytes of each row encoded alone, also with
    /// an importance (whose row statistics must not leak from one row into the next).
    func testRowsAreIndependent() throws {
        var random = SeededRandom(seed: 3)
        let first = (0..<256).map { _ in random.uniform(0.1) }, second = (0..<256).map { _ in random.uniform(3) }
        let importance = (0..<256).map { _ in random.uniform(1) + 1 }
        for type in Self.types {
            XCTAssertEqual(encoded(first + second, as: type, columns: 256, importance: importance),
                           encoded(first, as: type, columns: 256, importance: importance) + encoded(second, as: type, columns: 256, importance: importance),
                           type.name)
        }
    }
}
