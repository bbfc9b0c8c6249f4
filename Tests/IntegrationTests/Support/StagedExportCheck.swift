import Foundation
import XCTest
@testable import Shared

/// The exports a job under `--stages` wrote against one process's: every GGUF tensor's type, shape and bytes, and every
/// safetensors tensor's values, equal; the GGUF written as one part per stage (or as one file, `single`).
enum StagedExportCheck {
    static func assertSame(_ out: String, as one: String, parts: Int, single: Bool = false, _ name: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try GGUFFile(path: one + "/model.gguf")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".gguf") }.sorted()
        let expected = single ? ["model.gguf"] : (0..<parts).map { SplitSize.partName("model.gguf", extension: "gguf", index: $0, of: parts) }
        XCTAssertEqual(files, expected, name, file: file, line: line)
        if single {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/model.gguf")),
                           try Data(contentsOf: URL(fileURLWithPath: one + "/model.gguf")), name, file: file, line: line)
        }
        let written = try GGUFFile(path: try XCTUnwrap(GGUFSplitKeys.file(named: "model.gguf", in: out), name, file: file, line: line))
        XCTAssertEqual(written.tensors.map(\.name), reference.tensors.map(\.name), name, file: file, line: line)
        for (a, b) in zip(written.tensors, reference.tensors) {
            XCTAssertEqual(a.type, b.type, "\(name): \(a.name)", file: file, line: line)
            XCTAssertEqual(Array(try written.rawBytes(of: a)), Array(try reference.rawBytes(of: b)), "\(name): \(a.name)", file: file, line: line)
        }
        let hf = try HFModelDirectory.load(path: out + "/hf", storage: .fp32), hfReference = try HFModelDirectory.load(path: one + "/hf", storage: .fp32)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/hf/" + HFModelDirectory.indexName), name, file: file, line: line)
        XCTAssertEqual(hf.config, hfReference.config, name, file: file, line: line)
        for ((tensor, a), (_, b)) in zip(hf.namedTensors(), hfReference.namedTensors()) {
            XCTAssertEqual(a.data, b.data, "\(name): \(tensor)", file: file, line: line)
        }
    }
}
