import Foundation
import XCTest
@testable import Shared

/// GGUF files written in each `GGUFWriter.MatrixType` read back within the type's error: Q8_0 within half a step of
/// its block (plus the fp16 rounding of the step), BF16 and F16 rounded to nearest even, norms F32 and exact; a
/// matrix whose rows are not whole 32-element blocks falls back to F16.
final class GGUFExportTypeTests: XCTestCase {
    private var directory: GGUFTemporaryDirectory!

    override func setUpWithError() throws { directory = try GGUFTemporaryDirectory() }
    override func tearDown() { directory.remove() }

    /// Hidden 64: most rows are whole blocks; layer 1's down projection has rows of 40 (a pruned width), so F16.
    private let weights = ModelWeights.random(
        config: ModelConfig(vocabSize: 40, hidden: 64, headDim: 16,
                            layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 96), LayerShape(heads: 2, kvHeads: 1, intermediate: 40)],
                            rmsNormEps: 1e-6, ropeTheta: 50000, tiedEmbeddings: false, maxPositions: 64),
        seed: 21)

    private func written(_ type: GGUFWriter.MatrixType) throws -> (file: GGUFFile, read: ModelWeights) {
        let path = directory.file("\(type.rawValue).gguf")
        try GGUFWriter.write(weights: weights, tokenizer: GGUFTestModels.tokenizer(), to: path, type: type)
        return (try GGUFFile(path: path), try GGUFModel.load(path: path).weights)
    }

    func testTypesFileTypeAndF16Fallback() throws {
        for (type, fileType) in [(GGUFWriter.MatrixType.f32, 0), (.f16, 1), (.q8_0, 7), (.bf16, 32)] {
            let (file, read) = try written(type)
            XCTAssertEqual(file.metadata["general.file_type"], .uint32(UInt32(fileType)), type.rawValue)
            for info in file.tensors {
                let expected: GGUFTensorType = info.dimensions.count == 1 ? .f32
                    : info.dimensions[0] % 32 == 0 || type != .q8_0 ? type.tensorType : .f16
                XCTAssertEqual(info.type, expected, "\(type.rawValue) \(info.name)")
            }
            // Read back as stored, a matrix keeps its file type.
            XCTAssertEqual(read.layers[1][.down]?.stored?.type, type == .q8_0 ? .f16 : type.tensorType, type.rawValue)
            XCTAssertEqual(read.layers[0][.down]?.stored?.type, type.tensorType, type.rawValue)
        }
        XCTAssertEqual(try written(.q8_0).file.tensor(named: "blk.1.ffn_down.weight")?.type, .f16)
    }

    func testQ8_0ReadsBackWithinHalfAStepOfEachBlock() throws {
        let read = try written(.q8_0).read
        XCTAssertEqual(read.config, weights.config)
        for ((name, original), (_, loaded)) in zip(weights.namedTensors(), read.namedTensors()) {
            let x = original.data, y = loaded.data
            if original.shape.count == 1 {
                XCTAssertEqual(y, x, name)
                continue
            }
            guard original.cols % 32 == 0 else {
                XCTAssertEqual(y, x.map { Float(Float16($0)) }, "\(name) falls back to F16")
                continue
            }
            // Blocks run along a row; the reader's un-permutation of Q/K moves whole rows, so blocks stay whole.
            for start in stride(from: 0, to: x.count, by: 32) {
                let block = start..<(start + 32)
                let d = x[block].map(abs).max()! / 127, stored = Float(Float16(d))
                let bound = d / 2 * (1 + 1e-6) + 127 * abs(d - stored)
                for i in block where abs(x[i] - y[i]) > bound {
                    XCTFail("\(name)[\(i)]: \(x[i]) came back \(y[i]), more than \(bound) away")
                }
            }
        }
    }

    func testBF16ReadsBackRoundedToNearestEven() throws {
        let read = try written(.bf16).read
        for ((name, original), (_, loaded)) in zip(weights.namedTensors(), read.namedTensors()) {
            let x = original.data, y = loaded.data
            guard original.shape.count > 1 else {
                XCTAssertEqual(y, x, name)
                continue
            }
            for i in x.indices where abs(x[i] - y[i]) > abs(x[i]) * 0x1p-8 {
                XCTFail("\(name)[\(i)]: \(x[i]) came back \(y[i])")
            }
            XCTAssertEqual(y, x.map { Float(bitPattern: UInt32(SafetensorsDType.floatToBFloat16($0)) << 16) }, name)
        }
    }
}
