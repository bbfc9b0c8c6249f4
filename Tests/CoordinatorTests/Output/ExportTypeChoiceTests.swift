import Foundation
import XCTest
import Shared
@testable import Coordinator

/// The default export type is the input's own: a GGUF's general.file_type, a Hugging Face directory's dtype.
final class ExportTypeChoiceTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-export-choice-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testTheInputsFileTypeOrDtypeIsChosen() throws {
        let weights = ModelWeights.random(config: TinyModels.config(layers: 2), seed: 4)
        for type in [GGUFWriter.MatrixType.q4_1, .q4_k_m, .q5_k_s, .bf16, .f32] {
            let path = directory + "/\(type.rawValue).gguf"
            try GGUFWriter.write(weights: weights, tokenizer: nil, to: path, type: type)
            XCTAssertEqual(try ExportTypeChoice.matching(modelAt: path),
                           ExportTypeChoice(type: type, reason: "the input's general.file_type \(type.fileType)"))
        }
        try HFModelDirectory.write(weights, to: directory + "/hf", dtype: .bf16)
        XCTAssertEqual(try ExportTypeChoice.matching(modelAt: directory + "/hf"),
                       ExportTypeChoice(type: .bf16, reason: "the input's safetensors are BF16"))
        // A directory with only hf/ stands for it; a mop output directory's model.gguf holds the types it was
        // written in (its hf/ copy of a block type is F16).
        XCTAssertEqual(try ExportTypeChoice.matching(modelAt: directory).type, .bf16)
        try GGUFWriter.write(weights: weights, tokenizer: nil, to: directory + "/" + ModelExport.ggufFile, type: .q5_0)
        XCTAssertEqual(try ExportTypeChoice.matching(modelAt: directory).type, .q5_0)
        XCTAssertThrowsError(try ExportTypeChoice.matching(modelAt: directory + "/missing.gguf"))
    }

    /// Without a file type mop writes, the type of most matrix elements decides; the K-quants below Q4_K round up.
    func testStoredTypesMapToTheNearestExportType() {
        XCTAssertEqual(ExportTypeChoice.exportType(storing: .q3_K), .q4_k_m)
        XCTAssertEqual(ExportTypeChoice.exportType(storing: .q2_K), .q4_k_m)
        XCTAssertEqual(ExportTypeChoice.exportType(storing: .q5_K), .q5_k_m)
        XCTAssertEqual(ExportTypeChoice.exportType(storing: .q6_K), .q6_k)
        XCTAssertEqual(ExportTypeChoice.exportType(storing: .q5_1), .q5_1)
        XCTAssertEqual(ExportTypeChoice.exportType(storing: .f32), .f32)
    }
}
