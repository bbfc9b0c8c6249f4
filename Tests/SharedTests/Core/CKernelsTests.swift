import CKernels
import XCTest
@testable import Shared

/// The C kernels against the Swift dequantizer, bit for bit, and every ISA variant against the baseline one.
/// Rows come from the gguf-py fixture (Fixtures/quant-blocks.json) and from seeded random bytes with sane f16 scales.
/// Variants the CPU lacks are skipped; nothing depends on the CPU model or on timing.
final class CKernelsTests: XCTestCase {
    static let types: [GGUFTensorType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K,
                                          .q5_K, .q6_K]
    static let isaNames = ["baseline", "avx2", "avx512"]

    /// The variants this CPU runs (baseline always).
    static var isas: [Int32] { (0..<3).filter { mop_isa_available($0) != 0 } }

    /// Byte offsets of the f16 scales in one block of `type`.
    static func scaleOffsets(_ type: GGUFTensorType) -> [Int] {
        switch type {
        case .q8_0, .q4_0, .q5_0: [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
        case .q2_K: [80, 82]
        case .q3_K: [108]
        case .q6_K: [208]
        default: []
        }
    }

    /// `rows` random rows of `count` elements of `type`: random quants; scales are small finite f16s, some of them
    /// subnormal or -0 to exercise the conversion; F16 elements avoid only infinities and NaNs.
    static func randomRows(_ type: GGUFTensorType, count: Int, rows: Int = 1, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        let blocks = rows * count / type.blockSize
        var bytes = (0..<blocks * type.blockBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func put(_ value: UInt16, at offset: Int) {
            bytes[offset] = UInt8(value & 0xFF)
            bytes[offset + 1] = UInt8(value >> 8)
        }
        switch type {
        case .f32:
            for i in 0..<rows * count {
                let bits = rng.uniform(4).bitPattern
                for k in 0..<4 { bytes[4 * i + k] = UInt8(truncatingIfNeeded: bits >> (8 * k)) }
            }
        case .f16:
            for i in 0..<rows * count {
                var bits = UInt16(truncatingIfNeeded: rng.next())
                if bits & 0x7C00 == 0x7C00 { bits &= ~0x4000 }
                put(bits, at: 2 * i)
            }
        case .bf16:
            for i in 0..<rows * count { put(UInt16(rng.uniform(8).bitPattern >> 16), at: 2 * i) }
        default:
            for block in 0..<blocks {
                for offset in scaleOffsets(type) {
                    let value: UInt16
                    switch block % 11 {
                    case 3: value = 0x8000  // -0
                    case 7: value = UInt16(truncatingIfNeeded: rng.next()) & 0x83FF  // subnormal
                    default: value = Float16(rng.uniform(0.05)).bitPattern
                    }
                    put(value, at: block * type.blockBytes + offset)
                }
            }
        }
        return bytes
    }

    /// The fixture's row of `type` (F16/BF16 rows are 8 elements; the others 96 or 768).
    static func fixtureRow(_ type: GGUFTensorType) -> (bytes: [UInt8], count: Int)? {
        guard let entry = GGUFQuantFixtureTests.fixture.cases.first(where: { $0.type == type.name }) else { return nil }
        return (GGUFQuantFixtureTests.hex(entry.bytes), entry.count)
    }

    /// Every row to test for `type`: the fixture's (if any) and random ones.
    static func rows(_ type: GGUFTensorType) -> [(bytes: [UInt8], count: Int)] {
        var rows = [(randomRows(type, count: 768, seed: 7 + UInt64(type.rawValue)), 768),
                    (randomRows(type, count: 256, seed: 99 + UInt64(type.rawValue)), 256)]
        if let fixture = fixtureRow(type) { rows.append(fixture) }
        return rows
    }

    static func swiftDequantize(_ bytes: [UInt8], _ type: GGUFTensorType, _ count: Int) throws -> [Float] {
        try bytes.withUnsafeBytes { try GGUFDequantize.dequantize($0, type: type, count: count, file: "test") }
    }

    static func vector(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in rng.uniform(1) }
    }

    func testEveryVariantDequantizesBitEqualToSwift() throws {
        for type in Self.types {
            for (bytes, count) in Self.rows(type) {
                let expected = try Self.swiftDequantize(bytes, type, count).map(\.bitPattern)
                for isa in Self.isas {
                    var out = [Float](repeating: .nan, count: count)
                    let status = bytes.withUnsafeBytes { mop_dequantize_row_isa(isa, Int32(type.rawValue), $0.baseAddress, Int64(count), &out) }
                    XCTAssertEqual(status, 0)
                    let differing = zip(out.map(\.bitPattern), expected).filter { $0 != $1 }.count
                    XCTAssertEqual(differing, 0, "\(type.name) \(Self.isaNames[Int(isa)]), \(count) elements")
                }
            }
        }
    }

    func testDispatchedDequantizeMatchesSwift() throws {
        for type in Self.types {
            let (bytes, count) = Self.rows(type)[0]
            var out = [Float](repeating: .nan, count: count)
            let ok = bytes.withUnsafeBytes { QuantKernels.dequantizeRow(type: type, $0.baseAddress!, count: count, into: &out) }
            XCTAssertTrue(ok)
            XCTAssertEqual(out.map(\.bitPattern), try Self.swiftDequantize(bytes, type, count).map(\.bitPattern), type.name)
        }
    }

    func testDotIsBitEqualAcrossVariantsAndCloseToFloat64() throws {
        for type in Self.types {
            for (bytes, count) in Self.rows(type) {  // F16/BF16 fixture rows of 8 elements take the tail path
                let weights = try Self.swiftDequantize(bytes, type, count)
                let x = Self.vector(count, seed: 5)
                var exact = 0.0, magnitude = 0.0
                for i in 0..<count {
                    exact += Double(weights[i]) * Double(x[i])
                    magnitude += abs(Double(weights[i]) * Double(x[i]))
                }
                let base = bytes.withUnsafeBytes { mop_dot_row_isa(0, Int32(type.rawValue), $0.baseAddress, x, Int64(count)) }
                XCTAssertLessThanOrEqual(abs(Double(base) - exact), 1e-5 * magnitude + 1e-30, "\(type.name) \(count)")
                for isa in Self.isas {
                    let dot = bytes.withUnsafeBytes { mop_dot_row_isa(isa, Int32(type.rawValue), $0.baseAddress, x, Int64(count)) }
                    XCTAssertEqual(dot.bitPattern, base.bitPattern, "\(type.name) \(Self.isaNames[Int(isa)]) \(count)")
                }
                let dispatched = bytes.withUnsafeBytes { QuantKernels.dot(type: type, $0.baseAddress!, x, count: count) }
                XCTAssertEqual(dispatched?.bitPattern, base.bitPattern, type.name)
            }
        }
    }

    /// The documented order: lane i % 16, then the pairwise tree. Lane k holds k + 1 (k < 15) and lane 15 holds 2^24,
    /// so the tree's (0 + 8) + (4 + 12)... sums differ from a left-to-right sum in the last bits.
    func testDotFollowsTheDocumentedOrder() {
        var w = [Float](repeating: 0, count: 32), x = [Float](repeating: 1, count: 32)
        for k in 0..<15 { w[k] = Float(k + 1) + 0.25 }
        w[15] = 16_777_216
        x[16] = 0
        var lanes = w.prefix(16).map { $0 }
        for k in 0..<8 { lanes[k] += lanes[k + 8] }
        for k in 0..<4 { lanes[k] += lanes[k + 4] }
        for k in 0..<2 { lanes[k] += lanes[k + 2] }
        let expected = lanes[0] + lanes[1]
        for isa in Self.isas {
            XCTAssertEqual(mop_dot_row_isa(isa, 0, w, x, 32).bitPattern, expected.bitPattern, Self.isaNames[Int(isa)])
        }
    }

    /// Float rows round their products before adding them: 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11, so lane 0 ends at
    /// exactly 2^-11; a fused multiply-add would keep the 2^-24.
    func testNoFusedMultiplyAdd() {
        var w = [Float](repeating: 0, count: 32), x = [Float](repeating: 0, count: 32)
        w[0] = 1
        x[0] = -1
        w[16] = 1 + 0x1p-12
        x[16] = 1 + 0x1p-12
        for isa in Self.isas {
            XCTAssertEqual(mop_dot_row_isa(isa, 0, w, x, 32), 0x1p-11, Self.isaNames[Int(isa)])
        }
    }

    /// Matvec (with and without a row list) gives each row's mop_dot_row bits, for every variant. 768 elements are
    /// a full group of 16 units plus a partial one for the 32-element units (and 3 K super-blocks); 9 rows are two
    /// groups of 4 float rows (AVX-512) or four of 2, plus a single row.
    func testMatvecEqualsPerRowDots() {
        let n = 768, count = 9
        let x = Self.vector(n, seed: 11)
        let selection: [Int32] = [6, 0, 3, 3, 1, 5, 2, 4, 8, 7, 6]
        for type in Self.types {
            let matrix = Self.randomRows(type, count: n, rows: count, seed: 21 + UInt64(type.rawValue))
            let rowBytes = type.byteCount(elements: n)!
            matrix.withUnsafeBytes { raw in
                let base = raw.baseAddress!
                let reference = (0..<count).map { mop_dot_row_isa(0, Int32(type.rawValue), base + $0 * rowBytes, x, Int64(n)) }
                for isa in Self.isas {
                    let dots = (0..<count).map { mop_dot_row_isa(isa, Int32(type.rawValue), base + $0 * rowBytes, x, Int64(n)) }
                    XCTAssertEqual(dots.map(\.bitPattern), reference.map(\.bitPattern), "\(type.name) \(Self.isaNames[Int(isa)]) dot")
                    var all = [Float](repeating: .nan, count: count)
                    XCTAssertEqual(mop_matvec_isa(isa, Int32(type.rawValue), base, Int64(rowBytes), nil, Int64(count), x, Int64(n), &all), 0)
                    XCTAssertEqual(all.map(\.bitPattern), dots.map(\.bitPattern), "\(type.name) \(Self.isaNames[Int(isa)])")
                    var picked = [Float](repeating: .nan, count: selection.count)
                    XCTAssertEqual(mop_matvec_isa(isa, Int32(type.rawValue), base, Int64(rowBytes), selection,
                                                  Int64(selection.count), x, Int64(n), &picked), 0)
                    XCTAssertEqual(picked.map(\.bitPattern), selection.map { dots[Int($0)].bitPattern },
                                   "\(type.name) \(Self.isaNames[Int(isa)]) with rows")
                    // Rows split among calls (as among threads) give the same bits.
                    for split in [1, 3, 5] {
                        var parts = [Float](repeating: .nan, count: count)
                        parts.withUnsafeMutableBufferPointer { out in
                            _ = mop_matvec_isa(isa, Int32(type.rawValue), base, Int64(rowBytes), nil, Int64(split), x, Int64(n),
                                               out.baseAddress!)
                            _ = mop_matvec_isa(isa, Int32(type.rawValue), base + split * rowBytes, Int64(rowBytes), nil,
                                               Int64(count - split), x, Int64(n), out.baseAddress! + split)
                        }
                        XCTAssertEqual(parts.map(\.bitPattern), dots.map(\.bitPattern), "\(type.name) \(Self.isaNames[Int(isa)]) split \(split)")
                    }
                }
                var dispatched = [Float](repeating: .nan, count: count)
                XCTAssertTrue(QuantKernels.matvec(type: type, base: base, rowBytes: rowBytes, rows: nil, count: count,
                                                  x: x, n: n, y: &dispatched))
                XCTAssertEqual(dispatched.map(\.bitPattern), reference.map(\.bitPattern), type.name)
            }
        }
    }

    /// Long rows: matvec keeps what its rows share (x sums, permuted x) on the heap (over 4096 floats), still each
    /// row's dot bits, and close to a float64 dot.
    func testLongRowsMatvec() throws {
        let n = 33_280, count = 5
        let x = Self.vector(n, seed: 3)
        for type in [GGUFTensorType.q4_1, .q5_1, .q2_K, .q4_K, .q6_K, .q8_0] {
            let matrix = Self.randomRows(type, count: n, rows: count, seed: 77 + UInt64(type.rawValue))
            let rowBytes = type.byteCount(elements: n)!
            try matrix.withUnsafeBytes { raw in
                let base = raw.baseAddress!
                for isa in Self.isas {
                    let dots = (0..<count).map { mop_dot_row_isa(isa, Int32(type.rawValue), base + $0 * rowBytes, x, Int64(n)) }
                    var all = [Float](repeating: .nan, count: count)
                    XCTAssertEqual(mop_matvec_isa(isa, Int32(type.rawValue), base, Int64(rowBytes), nil, Int64(count), x, Int64(n), &all), 0)
                    XCTAssertEqual(all.map(\.bitPattern), dots.map(\.bitPattern), "\(type.name) \(Self.isaNames[Int(isa)])")
                    XCTAssertEqual(dots.map(\.bitPattern),
                                   (0..<count).map { mop_dot_row_isa(0, Int32(type.rawValue), base + $0 * rowBytes, x, Int64(n)).bitPattern })
                }
                let row = Array(UnsafeRawBufferPointer(rebasing: raw[0..<rowBytes]))
                let weights = try Self.swiftDequantize(row, type, n)
                var exact = 0.0, magnitude = 0.0
                for i in 0..<n {
                    exact += Double(weights[i]) * Double(x[i])
                    magnitude += abs(Double(weights[i]) * Double(x[i]))
                }
                XCTAssertLessThanOrEqual(abs(Double(all0(type, base, rowBytes, x, n)) - exact), 1e-5 * magnitude, type.name)
            }
        }
    }

    private func all0(_ type: GGUFTensorType, _ base: UnsafeRawPointer, _ rowBytes: Int, _ x: [Float], _ n: Int) -> Float {
        var y: Float = .nan
        _ = mop_matvec(Int32(type.rawValue), base, Int64(rowBytes), nil, 1, x, Int64(n), &y)
        return y
    }

    /// The documented order of a block type's dot (CKernels.h), recomputed in Swift from the quants and scales: Q8_0
    /// and Q4_1 rows of 48 or 45 blocks (the last group of 16 units partial at n = 1440), and Q4_K and Q6_K rows of 6
    /// super-blocks in their own lane order. `addingProduct` is the fused multiply-add of the order.
    func testQuantizedDotFollowsTheDocumentedOrder() {
        func tree(_ v: [Float]) -> Float {
            var lanes = v
            for k in 0..<8 { lanes[k] = lanes[k] + lanes[k + 8] }
            for k in 0..<4 { lanes[k] = lanes[k] + lanes[k + 4] }
            for k in 0..<2 { lanes[k] = lanes[k] + lanes[k + 2] }
            return lanes[0] + lanes[1]
        }
        func half(_ b: ArraySlice<UInt8>, _ o: Int) -> Float {
            let i = b.startIndex + o
            return Float(Float16(bitPattern: UInt16(b[i]) | UInt16(b[i + 1]) << 8))
        }
        /// Units of 32 (Q8_0, Q4_1): P = q x on 16 lanes, scaled into A_{u % 2}; the min into M[u % 16].
        func blockOrder(_ type: GGUFTensorType, _ bytes: [UInt8], _ x: [Float]) -> Float {
            var a = [[Float]](repeating: [Float](repeating: 0, count: 16), count: 2), m = [Float](repeating: 0, count: 16)
            for u in 0..<x.count / 32 {
                let b = bytes[u * type.blockBytes..<(u + 1) * type.blockBytes], o = b.startIndex
                let q = (0..<32).map { l -> Float in
                    type == .q8_0 ? Float(Int8(bitPattern: b[o + 2 + l])) : Float(l < 16 ? b[o + 4 + l] & 0x0F : b[o + 4 + l - 16] >> 4)
                }
                let p = (0..<16).map { l in (q[l] * x[32 * u + l]).addingProduct(q[l + 16], x[32 * u + l + 16]) }
                for l in 0..<16 { a[u % 2][l] = a[u % 2][l].addingProduct(p[l], half(b, 0)) }
                if type == .q4_1 { m[u % 16] = m[u % 16].addingProduct(half(b, 2), tree((0..<16).map { x[32 * u + $0] + x[32 * u + $0 + 16] })) }
            }
            let sum = (0..<16).map { a[0][$0] + a[1][$0] }
            return type == .q4_1 ? tree((0..<16).map { sum[$0] + m[$0] }) : tree(sum)
        }
        /// Q4_K and Q6_K: lane l of pass (c or g, h) takes the elements e(k, l) for k < 4, then the scale of its lane.
        func superBlockOrder(_ type: GGUFTensorType, _ bytes: [UInt8], _ x: [Float]) -> Float {
            var a = [Float](repeating: 0, count: 16), m = [Float](repeating: 0, count: 16)
            for block in 0..<x.count / 256 {
                let b = bytes[block * type.blockBytes..<(block + 1) * type.blockBytes], o = b.startIndex, xb = Array(x[(256 * block)...])
                var q = [Float](repeating: 0, count: 256), scale = [Float](repeating: 0, count: 16)
                if type == .q4_K {
                    let s = b[(o + 4)...].prefix(12).map { Int($0) }
                    for j in 0..<8 {
                        let (sc, mn) = j < 4 ? (s[j] & 63, s[j + 4] & 63)
                            : ((s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4, (s[j + 4] >> 4) | (s[j] >> 6) << 4)
                        scale[j] = half(b, 0) * Float(sc)
                        let sums = (0..<16).map { xb[32 * j + $0] + xb[32 * j + 16 + $0] }
                        m[8 + j] = m[8 + j].addingProduct(half(b, 2) * Float(mn), tree(sums))
                        for i in 0..<32 { q[32 * j + i] = Float((b[o + 16 + 32 * (j / 2) + i] >> (4 * UInt8(j % 2))) & 0x0F) }
                    }
                } else {
                    for e in 0..<256 {
                        let g = e / 128, quarter = (e % 128) / 32, i = e % 32
                        let low = (b[o + 64 * g + 32 * (quarter % 2) + i] >> (4 * UInt8(quarter / 2))) & 0x0F
                        let high = (b[o + 128 + 32 * g + i] >> (2 * UInt8(quarter))) & 3
                        q[e] = Float(Int(low | high << 4) - 32)
                    }
                    for c in 0..<16 { scale[c] = half(b, 208) * Float(Int8(bitPattern: b[o + 192 + c])) }
                }
                for c in 0..<2 {
                    for h in 0..<2 {
                        var p = [Float](repeating: 0, count: 16)
                        for k in 0..<4 {
                            for l in 0..<16 {
                                let e = type == .q4_K ? 64 * (2 * c + l / 8) + 32 * h + (4 * l + k) % 32 : 128 * c + 64 * h + 4 * l + k
                                p[l] = k == 0 ? q[e] * xb[e] : p[l].addingProduct(q[e], xb[e])
                            }
                        }
                        for l in 0..<16 {
                            a[l] = a[l].addingProduct(p[l], type == .q4_K ? scale[4 * c + 2 * (l / 8) + h] : scale[8 * c + 4 * h + l / 4])
                        }
                    }
                }
            }
            return type == .q4_K ? tree((0..<16).map { a[$0] - m[$0] }) : tree(a)
        }
        for (type, n) in [(GGUFTensorType.q8_0, 1536), (.q8_0, 1440), (.q4_1, 1536), (.q4_1, 1440), (.q4_K, 1536), (.q6_K, 1536)] {
            let x = Self.vector(n, seed: 17)
            let bytes = Self.randomRows(type, count: n, seed: 5)
            let expected = type == .q4_K || type == .q6_K ? superBlockOrder(type, bytes, x) : blockOrder(type, bytes, x)
            for isa in Self.isas {
                let dot = bytes.withUnsafeBytes { mop_dot_row_isa(isa, Int32(type.rawValue), $0.baseAddress, x, Int64(n)) }
                XCTAssertEqual(dot.bitPattern, expected.bitPattern, "\(type.name) \(Self.isaNames[Int(isa)]) \(n)")
            }
        }
    }

    func testUnsupportedTypesAreRefused() {
        let bytes = [UInt8](repeating: 0, count: 4096), x = [Float](repeating: 1, count: 256)
        var out = [Float](repeating: 7, count: 256)
        for type in GGUFTensorType.allCases where !Self.types.contains(type) {
            XCTAssertFalse(QuantKernels.supports(type), type.name)
            XCTAssertEqual(mop_dequantize_row(Int32(type.rawValue), bytes, 256, &out), -1, type.name)
            XCTAssertTrue(mop_dot_row(Int32(type.rawValue), bytes, x, 256).isNaN, type.name)
            bytes.withUnsafeBytes { raw in
                XCTAssertFalse(QuantKernels.dequantizeRow(type: type, raw.baseAddress!, count: 256, into: &out))
                XCTAssertNil(QuantKernels.dot(type: type, raw.baseAddress!, x, count: 256))
                XCTAssertFalse(QuantKernels.matvec(type: type, base: raw.baseAddress!, rowBytes: 256, rows: nil, count: 1,
                                                   x: x, n: 256, y: &out))
            }
            for isa in Self.isas {
                XCTAssertEqual(mop_dequantize_row_isa(isa, Int32(type.rawValue), bytes, 256, &out), -1)
            }
        }
        XCTAssertEqual(out, [Float](repeating: 7, count: 256), "untouched")
        XCTAssertEqual(mop_dequantize_row(-1, bytes, 256, &out), -1)
        XCTAssertEqual(mop_dequantize_row(1000, bytes, 256, &out), -1)
    }

    func testChosenVariantIsAvailable() {
        let isa = QuantKernels.isa
        let index = try? XCTUnwrap(Self.isaNames.firstIndex(of: isa), isa)
        XCTAssertNotNil(index)
        if let index { XCTAssertNotEqual(mop_isa_available(Int32(index)), 0) }
        XCTAssertEqual(mop_isa_available(-1), 0)
        XCTAssertEqual(mop_isa_available(3), 0)
    }
}
