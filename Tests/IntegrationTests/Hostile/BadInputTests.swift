import Foundation
import XCTest
@testable import Shared

/// Malformed model files and inputs given to the `mop` command: each ends with exactly one line on stderr naming the
/// file and the problem, exit code 1, nothing on stdout, no crash.
final class BadInputTests: XCTestCase {
    var directory = ""
    var text = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        text = directory + "/text.txt"
        try Data("some text to score".utf8).write(to: URL(fileURLWithPath: text))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    static let config = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4,
                                    layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24)], tiedEmbeddings: true,
                                    maxPositions: 64)

    func goodGGUF() throws -> String {
        let path = directory + "/model.gguf"
        try GGUFWriter.write(weights: .random(config: Self.config, seed: 1), tokenizer: nil, to: path, type: .f32)
        return path
    }

    func goodHFDirectory() throws -> String {
        let path = directory + "/hf"
        try HFModelDirectory.write(.random(config: Self.config, seed: 1), to: path)
        return path
    }

    /// Replaces the first occurrence of `old` by `new` (same length) in the file.
    func patch(_ path: String, _ old: String, _ new: String) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let range = try XCTUnwrap(data.range(of: Data(old.utf8)), "\(old) not in \(path)")
        data.replaceSubrange(range, with: Data(new.utf8))
        try data.write(to: URL(fileURLWithPath: path))
    }

    func assertOneLineError(_ args: [String], naming path: String, saying phrase: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        try OneLineError.assert(args, naming: path, saying: phrase, file: file, line: line)
    }

    func testTruncatedGGUF() throws {
        let path = try goodGGUF()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        try assertOneLineError(["eval", path, "--ppl", text], naming: path, saying: "past the end")
    }

    func testSafetensorsHeaderLengthPastTheEnd() throws {
        let hf = try goodHFDirectory(), file = hf + "/model.safetensors"
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
        try handle.write(contentsOf: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        try handle.close()
        try assertOneLineError(["eval", hf, "--ppl", text], naming: file, saying: "header")
    }

    func testSafetensorsOffsetsPastTheEnd() throws {
        let hf = try goodHFDirectory(), file = hf + "/model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        try data.prefix(data.count - 64).write(to: URL(fileURLWithPath: file))
        try assertOneLineError(["eval", hf, "--ppl", text], naming: file, saying: "past the end")
    }

    func testShapeThatDisagreesWithTheConfig() throws {
        let hf = try goodHFDirectory()
        try patch(hf + "/config.json", "\"intermediate_size\" : 24", "\"intermediate_size\" : 25")
        try assertOneLineError(["eval", hf, "--ppl", text], naming: hf, saying: "the config implies")
    }

    func testUnknownTensorType() throws {
        let hf = try goodHFDirectory(), file = hf + "/model.safetensors"
        try patch(file, "\"F32\"", "\"U32\"")
        try assertOneLineError(["eval", hf, "--ppl", text], naming: file, saying: "U32")
    }

    func testMissingTensor() throws {
        let hf = try goodHFDirectory()
        try patch(hf + "/model.safetensors", "model.norm.weight", "model.norX.weight")
        try assertOneLineError(["eval", hf, "--ppl", text], naming: hf, saying: "missing tensor model.norm.weight")
    }

    func testModelWithoutTokenizerCannotScoreText() throws {
        let path = try goodGGUF()
        try assertOneLineError(["eval", path, "--ppl", text], naming: path, saying: "no tokenizer")
    }

    func testMissingAndNonUTF8TextFiles() throws {
        let model = try RealInputs.smolLM2()
        try assertOneLineError(["eval", model, "--ppl", directory + "/absent.txt"], naming: directory + "/absent.txt",
                               saying: "no such file")
        let binary = directory + "/binary.txt"
        try Data([0x66, 0xFF, 0xFE, 0x00]).write(to: URL(fileURLWithPath: binary))
        try assertOneLineError(["eval", model, "--ppl", binary], naming: binary, saying: "not valid UTF-8")
    }

    func testNotAModel() throws {
        try assertOneLineError(["inspect", text], naming: text, saying: "not a GGUF file")
    }
}
