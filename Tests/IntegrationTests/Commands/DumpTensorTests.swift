import Foundation
import XCTest
@testable import Shared

/// The hidden `mop dump-tensor` that scripts/check-dequantize.py reads: raw little-endian float32 of each tensor,
/// in file order, exactly GGUFFile's dequantization (no Q/K un-permutation), and one-line errors.
final class DumpTensorTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-dump-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// A tiny F16 model (norms stay F32), so the dump goes through a conversion, not only a copy.
    private func model() throws -> String {
        let config = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4, layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24)],
                                 tiedEmbeddings: false, maxPositions: 64)
        let path = directory + "/model.gguf"
        try GGUFWriter.write(weights: .random(config: config, seed: 3), tokenizer: nil, to: path, type: .f16)
        return path
    }

    private func littleEndianFloats(_ path: String) throws -> [UInt32] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { raw in
            (0..<data.count / 4).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
    }

    func testEveryTensorInFileOrderBitForBit() throws {
        let path = try model(), out = directory + "/all.f32"
        let output = try MopProcess.run(["dump-tensor", path, "--out", out], timeout: 60)
        XCTAssertEqual(output.status, 0, output.stderr)
        let file = try GGUFFile(path: path)
        XCTAssertTrue(output.stderr.hasPrefix("dump-tensor: \(file.tensors.count) tensors,"), output.stderr)
        let expected = try file.tensors.flatMap { try file.dequantize($0).data.map(\.bitPattern) }
        XCTAssertEqual(try littleEndianFloats(out), expected)
    }

    func testNamedTensorsInTheOrderGiven() throws {
        let path = try model(), out = directory + "/two.f32"
        let names = ["blk.0.attn_k.weight", "output_norm.weight"]
        let output = try MopProcess.run(["dump-tensor", path] + names + ["--out", out], timeout: 60)
        XCTAssertEqual(output.status, 0, output.stderr)
        let file = try GGUFFile(path: path)
        // attn_k as stored: GGUF's rope row order, which the model loader would undo.
        let expected = try names.flatMap { try file.dequantize(XCTUnwrap(file.tensor(named: $0))).data.map(\.bitPattern) }
        XCTAssertEqual(try littleEndianFloats(out), expected)
    }

    func testUnknownTensorNameIsAOneLineErrorAndWritesNothing() throws {
        let path = try model(), out = directory + "/none.f32"
        let output = try MopProcess.run(["dump-tensor", path, "blk.7.attn_q.weight", "--out", out], timeout: 60)
        XCTAssertEqual(output.status, 1)
        XCTAssertEqual(output.stderr, "mop: error: \(path): no tensor named blk.7.attn_q.weight\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
