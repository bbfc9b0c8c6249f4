import Foundation
import XCTest
@testable import Shared

final class SafetensorsTests: XCTestCase {
    typealias Support = SafetensorsTestSupport

    private func sampleTensors() -> [(name: String, tensor: Tensor)] {
        var rng = SeededRandom(seed: 3)
        return [
            ("z.first", Tensor(shape: [3, 5], data: (0..<15).map { _ in rng.uniform(2) })),
            ("a.second", Tensor(shape: [7], data: (0..<7).map { _ in rng.uniform(100) })),
            ("scalar", Tensor(shape: [], data: [-2.5])),
            ("empty", Tensor(shape: [0, 4], data: [])),
            ("m.third/with\"quote", Tensor(shape: [2, 1, 3], data: [1, -2.5, 65504, 0x1p-24, 0.1, 1e-3])),
        ]
    }

    func testF32RoundTripIsExactAndKeepsTheGivenLayout() throws {
        let path = try Support.temporaryDirectory(self) + "/t.safetensors"
        let tensors = sampleTensors()
        try SafetensorsWriter.write(tensors, dtype: .f32, to: path)

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.names, tensors.map(\.name))
        XCTAssertEqual(file.metadata, ["format": "pt"])
        for (name, tensor) in tensors {
            XCTAssertEqual(try file.tensor(named: name), tensor, name)
            XCTAssertEqual(file.entry(named: name)?.dtype, .f32)
        }
        XCTAssertNil(try file.tensor(named: "absent"))

        // Header padded with spaces to a multiple of 8, data packed right after it in the given order.
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(bytes.count, 8 + headerLength + 4 * tensors.map(\.tensor.count).reduce(0, +))
        XCTAssertEqual(file.entries.first?.byteRange.lowerBound, 8 + headerLength)
        let header = try XCTUnwrap(String(data: bytes[8..<(8 + headerLength)], encoding: .utf8))
        XCTAssertTrue(header.hasPrefix("{"))
        XCTAssertTrue(header.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        // The first tensor's first element, read straight from the data section.
        let first = bytes[(8 + headerLength)...].withUnsafeBytes { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        XCTAssertEqual(first, tensors[0].tensor.data[0])
        // No temporary file is left beside the output.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent), ["t.safetensors"])
    }

    func testHalfAndBFloat16FilesHoldRoundedValues() throws {
        let directory = try Support.temporaryDirectory(self)
        let tensors = sampleTensors()
        for dtype in [SafetensorsDType.f16, .bf16] {
            let path = directory + "/\(dtype.rawValue).safetensors"
            try SafetensorsWriter.write(tensors, dtype: dtype, to: path)
            let file = try SafetensorsFile(path: path)
            for (name, tensor) in tensors {
                let expected = tensor.data.map {
                    dtype == .f16 ? SafetensorsDType.halfToFloat(SafetensorsDType.floatToHalf($0))
                        : Float(bitPattern: UInt32(SafetensorsDType.floatToBFloat16($0)) << 16)
                }
                XCTAssertEqual(file.entry(named: name)?.dtype, dtype)
                XCTAssertEqual(try file.tensor(named: name), Tensor(shape: tensor.shape, data: expected), "\(dtype) \(name)")
            }
        }
    }

    /// A file built by hand (unpadded header, so the data is unaligned) with bit patterns computed by hand.
    func testReadsHandBuiltFileWithEveryDType() throws {
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"#
            + #""f":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"format":"pt","note":"x"}}"#
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC1, 0x80, 0x3F, 0x20, 0xC0, 0x00, 0xE0, 0x7F, 0x47]
        let path = try Support.temporaryDirectory(self) + "/hand.safetensors"
        try Support.rawFile(header: header, data: data).write(to: URL(fileURLWithPath: path))
        let tensors = try SafetensorsFile.read(path: path)
        XCTAssertEqual(tensors["h"], Tensor(shape: [2], data: [1, -2.5]))
        XCTAssertEqual(tensors["b"], Tensor(shape: [2], data: [1, -2.5]))
        XCTAssertEqual(tensors["f"], Tensor(shape: [1], data: [65504]))
        XCTAssertEqual(try SafetensorsFile(path: path).metadata, ["format": "pt", "note": "x"])
    }

    func testShardedIndexLoadsTheSameTensors() throws {
        let directory = try Support.temporaryDirectory(self)
        let tensors = sampleTensors()
        let (first, second) = (Array(tensors[..<2]), Array(tensors[2...]))
        try SafetensorsWriter.write(first, dtype: .f32, to: directory + "/model-00001-of-00002.safetensors")
        try SafetensorsWriter.write(second, dtype: .bf16, to: directory + "/model-00002-of-00002.safetensors")
        var map: [String: String] = [:]
        for (name, _) in first { map[name] = "model-00001-of-00002.safetensors" }
        for (name, _) in second { map[name] = "model-00002-of-00002.safetensors" }
        let indexPath = directory + "/model.safetensors.index.json"
        try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": map])
            .write(to: URL(fileURLWithPath: indexPath))

        let index = try SafetensorsIndex(path: indexPath)
        XCTAssertEqual(index.shards.count, 2)
        let loaded = try index.tensors()
        XCTAssertEqual(Set(loaded.keys), Set(tensors.map(\.name)))
        for (name, tensor) in first { XCTAssertEqual(loaded[name], tensor, name) }
        for (name, tensor) in second {
            let rounded = tensor.data.map { Float(bitPattern: UInt32(SafetensorsDType.floatToBFloat16($0)) << 16) }
            XCTAssertEqual(loaded[name]?.data, rounded, name)
        }
    }

    func testShardedIndexNamingAMissingShardFails() throws {
        let directory = try Support.temporaryDirectory(self)
        try SafetensorsWriter.write(Array(sampleTensors()[..<1]), dtype: .f32, to: directory + "/a.safetensors")
        let indexPath = directory + "/model.safetensors.index.json"
        try Data(#"{"weight_map":{"z.first":"a.safetensors","a.second":"b.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: indexPath))
        Support.assertMopError(try SafetensorsIndex(path: indexPath), path: indexPath, phrase: "shard b.safetensors named in weight_map is missing")
    }

    func testShardedIndexListingATensorTheShardLacksFails() throws {
        let directory = try Support.temporaryDirectory(self)
        try SafetensorsWriter.write(Array(sampleTensors()[..<1]), dtype: .f32, to: directory + "/a.safetensors")
        let indexPath = directory + "/model.safetensors.index.json"
        try Data(#"{"weight_map":{"z.first":"a.safetensors","ghost":"a.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: indexPath))
        Support.assertMopError(try SafetensorsIndex(path: indexPath), path: directory + "/a.safetensors", phrase: "tensor ghost listed in")
    }

    func testShardedIndexRefusesShardPathsOutsideTheDirectory() throws {
        let indexPath = try Support.temporaryDirectory(self) + "/model.safetensors.index.json"
        try Data(#"{"weight_map":{"x":"../elsewhere.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: indexPath))
        Support.assertMopError(try SafetensorsIndex(path: indexPath), path: indexPath, phrase: "not a plain shard file name")
    }

    // MARK: malformed files, one problem each

    private func assertMalformed(_ contents: Data, phrase: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try Support.temporaryDirectory(self) + "/bad.safetensors"
        try contents.write(to: URL(fileURLWithPath: path))
        Support.assertMopError(try SafetensorsFile(path: path), path: path, phrase: phrase, file: file, line: line)
    }

    private let goodEntry = #""t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#

    func testTruncatedFileFails() throws {
        try assertMalformed(Data([0x10, 0, 0]), phrase: "truncated safetensors file")
    }

    func testFileCutShortInTheDataFails() throws {
        let whole = Support.rawFile(header: "{\(goodEntry)}", data: [UInt8](repeating: 0, count: 16))
        try assertMalformed(whole.prefix(whole.count - 3), phrase: "past the end of the data section")
    }

    func testHeaderLengthPastTheEndFails() throws {
        try assertMalformed(Support.rawFile(header: "{\(goodEntry)}", data: [UInt8](repeating: 0, count: 16), declaredLength: 1 << 40),
                            phrase: "header length 1099511627776 runs past the end of the file")
    }

    func testTensorOffsetsPastTheEndFail() throws {
        let header = #"{"t":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]}}"#
        try assertMalformed(Support.rawFile(header: header, data: [UInt8](repeating: 0, count: 16)),
                            phrase: "tensor t has data_offsets [16, 32] past the end of the data section (16 bytes)")
    }

    func testShapeDisagreeingWithOffsetsFails() throws {
        let header = #"{"t":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,16]}}"#
        try assertMalformed(Support.rawFile(header: header, data: [UInt8](repeating: 0, count: 16)),
                            phrase: "tensor t has shape [2, 3] of BF16, 12 bytes, but data_offsets [0, 16] span 16 bytes")
    }

    func testHugeShapeFailsWithoutOverflow() throws {
        let header = #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#
        try assertMalformed(Support.rawFile(header: header, data: [UInt8](repeating: 0, count: 16)), phrase: "too large to address")
    }

    func testUnknownDTypeFails() throws {
        let header = #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#
        try assertMalformed(Support.rawFile(header: header, data: [UInt8](repeating: 0, count: 16)),
                            phrase: "unsupported dtype I64 for tensor ids")
    }

    func testHeaderThatIsNotJSONFails() throws {
        try assertMalformed(Support.rawFile(header: "{\"t\": [1, 2", data: []), phrase: "header is not valid JSON")
    }

    func testHeaderThatIsNotAnObjectFails() throws {
        try assertMalformed(Support.rawFile(header: "[1, 2]  ", data: []), phrase: "header is not a JSON object")
    }

    func testOverlappingTensorsFail() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try assertMalformed(Support.rawFile(header: header, data: [UInt8](repeating: 0, count: 12)), phrase: "tensor b at data offset 4 overlaps the tensor before it")
    }

    func testBadShapeAndOffsetTypesFail() throws {
        let negative = #"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#
        try assertMalformed(Support.rawFile(header: negative, data: [0, 0, 0, 0]), phrase: "tensor t has no shape array")
        let boolean = #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[false,4]}}"#
        try assertMalformed(Support.rawFile(header: boolean, data: [0, 0, 0, 0]), phrase: "tensor t has no data_offsets pair")
    }
}
