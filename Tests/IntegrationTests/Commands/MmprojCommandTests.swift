import Foundation
import XCTest
@testable import Shared

/// `--mmproj` through the binary: `mop apply` of a language-model GGUF copies llama.cpp's mmproj beside the written
/// model byte for byte; a file that is not an mmproj for it is refused before anything is written; `mop generate`
/// reads it only for an image.
final class MmprojCommandTests: XCTestCase {
    var directory = ""
    var model = ""
    var mmproj = ""
    var structure = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-mmproj-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = try PruneFixtures.tinyModel(in: directory, layers: 2)
        // A random tower of one layer whose projector gives the language model's 32 features per image token.
        let config = LlavaVision.Config(hidden: 16, intermediate: 24, layers: 1, heads: 2, imageSize: 16, patchSize: 8,
                                        channels: 3, eps: 1e-5, activation: .quickGelu, featureLayers: 1,
                                        projectorBias: true, imageTokenId: 0, textHidden: 32)
        var tensors: [String: Tensor] = [:]
        for (index, entry) in config.tensorShapes.enumerated() {
            let count = entry.shape.reduce(1, *)
            tensors[entry.name] = Tensor(shape: entry.shape, data: (0..<count).map { Float(($0 * 7 + index) % 13) / 26 - 0.25 })
        }
        mmproj = directory + "/mmproj-model-f16.gguf"
        try GGUFMmproj.write(LlavaVision(config: config, tensors: tensors), mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
                             name: "tiny", to: mmproj)
        structure = directory + "/structure.json"
        try PruningStructure(originalLayers: 2, path: "", layers: [
            KeptLayer(index: 0, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: Array(0..<32)),
            KeptLayer(index: 1, heads: [0, 1], kvHeads: [0], neurons: Array(0..<64)),
        ]).write(to: structure)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testApplyCopiesTheMmprojBesideTheModel() throws {
        let out = directory + "/applied"
        let run = try MopProcess.run(["apply", model, "--structure", structure, "--out", out, "--format", "gguf",
                                      "--mmproj", mmproj], timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/mmproj.gguf")), try Data(contentsOf: URL(fileURLWithPath: mmproj)))
        XCTAssertEqual(try ModelLoader.describe(path: out + "/model.gguf").config.layers.map(\.heads), [4, 2])
    }

    func testAnotherFileIsRefusedBeforeWriting() throws {
        let out = directory + "/refused"
        let run = try MopProcess.run(["apply", model, "--structure", structure, "--out", out, "--format", "gguf",
                                      "--mmproj", model], timeout: 120)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains(model) && run.stderr.contains("general.architecture is llama"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/model.gguf"))
        let generate = try MopProcess.run(["generate", model, "--prompt", "hi", "--mmproj", mmproj], timeout: 60)
        XCTAssertNotEqual(generate.status, 0)
        XCTAssertTrue(generate.stderr.contains("--mmproj is read for an --image"), generate.stderr)
    }

    /// Image-text calibration through the mmproj: each row's image seen by its tower, the 4 feature rows at the marker
    /// of a vocabulary without `<image>`, and the mmproj still copied byte for byte.
    /// Also on 2 ranks and on 2 pipeline stages (rank 0's tower, the first stage embedding): the same search.
    func testPruneCalibratesOnImageRowsThroughTheMmproj() throws {
        let image = RealInputs.packageRoot.appendingPathComponent("Tests/SharedTests/Fixtures/families/llava/image.png").path
        let rows = directory + "/images.jsonl"
        let lines = ["What is it?", "Describe it.", "Which colour?", "How many?"].map { "{\"image\": \"\(image)\", \"text\": \"Q: <image> \($0) A:\"}" }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: rows))
        func prune(_ out: String) -> [String] {
            ["prune", model, "--mmproj", mmproj, "--target", "0.2", "--calibration", rows, "--calibration-samples", "4",
             "--out", out, "--format", "gguf", "--json"]
        }
        let out = directory + "/calibrated"
        let run = try MopProcess.run(prune(out), timeout: 180, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("the vision tower saw the 4 calibration images (4 feature rows each)"), run.stderr)
        XCTAssertEqual((run.json?["calibration"] as? [String: Any])?["images"] as? Int, 4, run.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/mmproj.gguf")), try Data(contentsOf: URL(fileURLWithPath: mmproj)))
        let reference = try PruneOutcome(run, directory: out)
        for flags in [[], ["--stages", "2"]] {
            let staged = directory + "/two" + flags.joined()
            let two = try MopProcess.mpirun(ranks: 2, prune(staged) + flags, timeout: 180)
            XCTAssertEqual(two.status, 0, "\(flags): \(two.stderr)")
            try PruneOutcome(two, directory: staged).assertSameSearch(as: reference, "\(flags)")
        }
    }

    /// A vocabulary without `<image>` (the tiny model's bytes): the text on each side of the marker is encoded alone
    /// and the image's 4 feature rows take the place between, marked by token 0.
    func testGenerateWithoutAnImageTokenPutsTheImageAtTheMarker() throws {
        let image = RealInputs.packageRoot.appendingPathComponent("Tests/SharedTests/Fixtures/families/llava/image.png").path
        let run = try MopProcess.run(["generate", model, "--mmproj", mmproj, "--image", image, "--prompt", "A<image>B",
                                      "--max-new-tokens", "2", "--json"], timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.json?["prompt_token_ids"] as? [Int], [65, 0, 0, 0, 0, 66], run.stdout)
        XCTAssertEqual((run.json?["tokens"] as? [Int])?.count, 2, run.stdout)
    }
}
