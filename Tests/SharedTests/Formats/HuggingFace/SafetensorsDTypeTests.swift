import XCTest
@testable import Shared

final class SafetensorsDTypeTests: XCTestCase {
    typealias DType = SafetensorsDType

    func testHalfEncodingOfHandComputedValues() {
        let cases: [(Float, UInt16)] = [
            (1.0, 0x3C00), (-2.5, 0xC100), (65504, 0x7BFF), (0, 0x0000), (-0.0, 0x8000),
            (0.1, 0x2E66),                      // 0.0999755859375, the nearest half
            (0x1p-14, 0x0400),                  // smallest normal
            (0x1p-24, 0x0001),                  // smallest subnormal
            (0x1p-15, 0x0200),                  // a subnormal with one mantissa bit
            (0x1p-25, 0x0000),                  // exactly half the smallest subnormal: ties to even (zero)
            (3 * 0x1p-25, 0x0002),              // 1.5 subnormal steps: ties to even (two)
            (1 + 0x1p-11, 0x3C00),              // halfway between 1 and the next half: ties to even (down)
            (1 + 3 * 0x1p-11, 0x3C02),          // halfway between odd 0x3C01 and 0x3C02: up to even
            (2 - 0x1p-12, 0x4000),              // rounds up, carrying into the exponent
            (65519, 0x7BFF), (65520, 0x7C00),   // 65520 is the tie between 65504 and 2^16: to even, infinity
            (1e10, 0x7C00), (-.infinity, 0xFC00),
        ]
        for (value, bits) in cases {
            XCTAssertEqual(DType.floatToHalf(value), bits, "\(value)")
        }
        let nan = DType.floatToHalf(.nan)
        XCTAssertEqual(nan & 0x7C00, 0x7C00)
        XCTAssertNotEqual(nan & 0x03FF, 0)
        // A NaN whose payload sits only in bits that are dropped must not become infinity.
        XCTAssertNotEqual(DType.floatToHalf(Float(bitPattern: 0x7F80_0001)) & 0x03FF, 0)
    }

    func testHalfDecodingOfHandComputedPatterns() {
        let cases: [(UInt16, Float)] = [
            (0x3C00, 1.0), (0xC100, -2.5), (0x7BFF, 65504), (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24),
            (0x0400, 0x1p-14), (0x8001, -0x1p-24), (0x3555, 0.333251953125), (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        for (bits, value) in cases {
            XCTAssertEqual(DType.halfToFloat(bits), value, String(bits, radix: 16))
        }
        XCTAssertEqual(DType.halfToFloat(0x8000).bitPattern, (-Float(0)).bitPattern)
        XCTAssertTrue(DType.halfToFloat(0x7E00).isNaN)
    }

    func testBFloat16OfHandComputedValues() {
        let cases: [(Float, UInt16)] = [
            (1.0, 0x3F80), (-2.5, 0xC020),
            (65504, 0x4780),                    // 0x477FE000: the low half is above the tie, so up to 65536
            (1 + 0x1p-8, 0x3F80),               // 0x3F808000, exactly halfway: ties to even (down)
            (1 + 3 * 0x1p-8, 0x3F82),           // 0x3F818000, halfway above odd 0x3F81: up to even
            (.pi, 0x4049),                      // 0x40490FDB: below the tie
            (0x1p-130, 0x0008),                 // float subnormal 0x00080000 survives
            (.greatestFiniteMagnitude, 0x7F80), // rounds past the largest bfloat16 to infinity
            (-.infinity, 0xFF80),
        ]
        for (value, bits) in cases {
            XCTAssertEqual(DType.floatToBFloat16(value), bits, "\(value)")
        }
        XCTAssertTrue(Float(bitPattern: UInt32(DType.floatToBFloat16(Float(bitPattern: 0x7F80_0001))) << 16).isNaN)
    }

    /// Nearest-even rounding to bfloat16 by comparing distances in Double, independent of the bit trick.
    private func referenceBFloat16(_ value: Float) -> UInt16 {
        let low = value.bitPattern & 0xFFFF_0000
        let candidates = [low, low + 0x1_0000].map { Double(Float(bitPattern: $0)) }
        let distances = candidates.map { abs($0 - Double(value)) }
        if distances[0] != distances[1] { return UInt16(truncatingIfNeeded: (distances[0] < distances[1] ? low : low + 0x1_0000) >> 16) }
        let lowHalf = UInt16(truncatingIfNeeded: low >> 16)
        return lowHalf & 1 == 0 ? lowHalf : lowHalf + 1
    }

    func testBFloat16MatchesDistanceReferenceOnRandomFloats() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<20000 {
            // Finite floats below the largest bfloat16 binade, where both candidates are finite.
            let bits = UInt32(truncatingIfNeeded: rng.next()) & 0x7EFF_FFFF | UInt32(truncatingIfNeeded: rng.next()) & 0x8000_0000
            let value = Float(bitPattern: bits)
            XCTAssertEqual(DType.floatToBFloat16(value), referenceBFloat16(value), "\(value)")
        }
    }

    #if !(os(macOS) && arch(x86_64))
    func testHalfConversionsMatchSwiftFloat16() {
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let decoded = DType.halfToFloat(bits)
            if expected.isNaN {
                XCTAssertTrue(decoded.isNaN)
            } else {
                XCTAssertEqual(decoded.bitPattern, expected.bitPattern, String(bits, radix: 16))
                XCTAssertEqual(DType.floatToHalf(decoded), bits, String(bits, radix: 16))
            }
        }
        var rng = SeededRandom(seed: 11)
        for _ in 0..<20000 {
            // Exponents concentrated around the half range, so subnormals, ties and overflow all occur.
            let exponent = UInt32(truncatingIfNeeded: rng.next() % 48) + 95
            let bits = exponent << 23 | UInt32(truncatingIfNeeded: rng.next()) & 0x807F_FFFF
            let value = Float(bitPattern: bits)
            XCTAssertEqual(DType.floatToHalf(value), Float16(value).bitPattern, "\(value)")
        }
    }
    #endif

    func testBufferConversionsAgreeWithScalarOnesAtAnyAlignment() {
        let values: [Float] = [1, -2.5, 65504, 0x1p-24, 0.1, 3.14159, -1e-3, 1e5]
        for dtype in DType.allCases {
            var bytes = [UInt8](repeating: 0, count: 1 + values.count * dtype.size)
            bytes.withUnsafeMutableBytes { raw in
                values.withUnsafeBufferPointer { dtype.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: raw[1...])) }
            }
            var decoded = [Float](repeating: 0, count: values.count)
            bytes.withUnsafeBytes { raw in
                decoded.withUnsafeMutableBufferPointer { dtype.decode(UnsafeRawBufferPointer(rebasing: raw[1...]), into: $0) }
            }
            let expected: [Float] = values.map {
                switch dtype {
                case .f32: $0
                case .f16: DType.halfToFloat(DType.floatToHalf($0))
                case .bf16: Float(bitPattern: UInt32(DType.floatToBFloat16($0)) << 16)
                }
            }
            XCTAssertEqual(decoded, expected, dtype.rawValue)
            // Little-endian on disk: the first element, 1.0, starts with its low byte.
            let first = Array(bytes[1...dtype.size])
            XCTAssertEqual(first, dtype == .f32 ? [0, 0, 0x80, 0x3F] : dtype == .f16 ? [0, 0x3C] : [0x80, 0x3F], dtype.rawValue)
        }
    }
}
