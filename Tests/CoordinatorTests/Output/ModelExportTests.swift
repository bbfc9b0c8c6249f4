import Foundation
import XCTest
import Shared
@testable import Coordinator

/// `ModelExport.write` puts the chosen matrix type in both formats, writes a SentencePiece tokenizer as tokenizer.model,
/// and refuses a block type for safetensors alone before writing anything.
final class ModelExportTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private let weights = ModelWeights.random(config: TinyModels.config(layers: 2), seed: 4)

    private func export(_ type: GGUFWriter.MatrixType, _ format: ModelExport.Format) throws -> String {
        let out = directory + "/\(type.rawValue)-\(format.rawValue)"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try ModelExport.write(original: weights, structure: .identity(weights.config), tokenizer: nil, to: out,
                              format: format, type: type)
        return out
    }

    func testEachTypeLandsInBothFormats() throws {
        for (type, dtype) in [(GGUFWriter.MatrixType.f32, SafetensorsDType.f32), (.f16, .f16), (.bf16, .bf16)] {
            let out = try export(type, .both)
            let safetensors = try SafetensorsFile(path: out + "/hf/model.safetensors")
            // Matrices in the chosen type; 1-D tensors (norms) stay f32 in both formats.
            XCTAssertEqual(Set(safetensors.entries.filter { $0.shape.count == 2 }.map(\.dtype)), [dtype], type.rawValue)
            XCTAssertEqual(Set(safetensors.entries.filter { $0.shape.count == 1 }.map(\.dtype)), [.f32], type.rawValue)
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/hf/config.json"))) as? [String: Any]
            XCTAssertEqual(config?["torch_dtype"] as? String, dtype.torchName)
            let gguf = try GGUFFile(path: out + "/model.gguf")
            XCTAssertEqual(Set(gguf.tensors.filter { $0.dimensions.count == 2 }.map(\.type)), [type.tensorType], type.rawValue)
        }
        let q8 = try export(.q8_0, .gguf)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: q8).sorted(), ["model.gguf", "structure.json"])
        // Hidden 32 and intermediate 48: padded with zero neurons to 64, the down projection is Q8_0 too; with the
        // widths as pruned its rows of 48 are not whole blocks, so F16.
        let gguf = try GGUFFile(path: q8 + "/model.gguf")
        XCTAssertEqual(gguf.tensor(named: "blk.0.ffn_down.weight")?.type, .q8_0)
        XCTAssertEqual(gguf.tensor(named: "blk.0.ffn_down.weight")?.dimensions, [64, 32])
        XCTAssertEqual(gguf.tensor(named: "blk.0.ffn_up.weight")?.type, .q8_0)
        let exact = directory + "/exact"
        try FileManager.default.createDirectory(atPath: exact, withIntermediateDirectories: true)
        try ModelExport.write(original: weights, structure: .identity(weights.config), tokenizer: nil, to: exact,
                              format: .gguf, type: .q8_0, exactWidths: true)
        XCTAssertEqual(try GGUFFile(path: exact + "/model.gguf").tensor(named: "blk.0.ffn_down.weight")?.type, .f16)
    }

    /// A block type with safetensors alone is refused before anything is written; with both formats hf/ is F16.
    func testBlockTypesAreRefusedForSafetensorsAloneAndF16BesideAGGUF() throws {
        for type in [GGUFWriter.MatrixType.q8_0, .q4_k_m] {
            let out = directory + "/refused-\(type.rawValue)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            XCTAssertThrowsError(try ModelExport.write(original: weights, structure: .identity(weights.config), tokenizer: nil,
                                                       to: out, format: .safetensors, type: type)) { error in
                XCTAssertEqual(error as? MopError, MopError(file: out, "--export-type \(type.rawValue) is a GGUF type (safetensors holds f32, f16 or bf16): give --format gguf or both"))
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [])
            XCTAssertEqual(ModelExport.safetensorsDType(type), .f16)
            XCTAssertNoThrow(try ModelExport.check(format: .both, type: type))
        }
        let both = try export(.q4_0, .both)
        let safetensors = try SafetensorsFile(path: both + "/hf/model.safetensors")
        XCTAssertEqual(Set(safetensors.entries.filter { $0.shape.count == 2 }.map(\.dtype)), [.f16])
        XCTAssertEqual(try GGUFFile(path: both + "/model.gguf").tensor(named: "blk.0.ffn_up.weight")?.type, .q4_0)
        XCTAssertNoThrow(try ModelExport.check(format: .safetensors, type: .bf16))
    }

    /// A SentencePiece tokenizer goes to hf/ as tokenizer.model and tokenizer.json and to the GGUF, and reads back
    /// from each: hf/ by its tokenizer.model, the tokenizer.json alone as a merges-ranked spec with the same ids.
    func testSentencePieceTokenizerIsWrittenToBothFormats() throws {
        let pieces = ["<unk>", "<s>", "</s>"] + (0..<256).map { String(format: "<0x%02X>", $0) } + ["▁", "a"]
        let spec = TokenizerSpec(model: .sentencePiece, vocabulary: pieces, merges: [], preTokenizer: .gpt2,
                                 specialTokenIds: [0, 1, 2], scores: pieces.map { _ in 0 },
                                 tokenTypes: [.unknown, .control, .control] + (0..<256).map { _ in .byte } + [.normal, .normal],
                                 bosTokenId: 1, eosTokenId: 2, addBos: true, dummyPrefix: .always, unkTokenId: 0)
        var config = TinyModels.config(layers: 2)
        config.vocabSize = pieces.count
        let model = ModelWeights.random(config: config, seed: 5)
        let out = directory + "/spm"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try ModelExport.write(original: model, structure: .identity(config), tokenizer: spec, to: out, format: .both, type: .f32)
        let files = try FileManager.default.contentsOfDirectory(atPath: out + "/hf")
        XCTAssertTrue(files.contains(SentencePieceModelFile.fileName), "\(files)")
        XCTAssertTrue(files.contains("tokenizer.json"), "\(files)")
        XCTAssertEqual(try HFModelDirectory.readTokenizer(in: out + "/hf"), spec)
        let fromJSON = try TokenizerJSON.read(path: out + "/hf/tokenizer.json")
        XCTAssertEqual(fromJSON.mergePriority, .mergeList)
        XCTAssertEqual(fromJSON.vocabulary, spec.vocabulary)
        XCTAssertEqual(try fromJSON.tokenizer().encode(" a aa\u{e9}<s>a"), try spec.tokenizer().encode(" a aa\u{e9}<s>a"))
        XCTAssertEqual(try GGUFTokenizer.read(from: GGUFFile(path: out + "/model.gguf")), spec)
    }
}
