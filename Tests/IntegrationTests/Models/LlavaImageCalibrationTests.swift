import Foundation
import XCTest
@testable import Shared

/// `mop prune --calibration` with image-text rows on a tiny LLaVA (docs/design.md#image-text-calibration): the export
/// keeps every vision tensor's bytes, the images change the search's numbers, 2 ranks find what one process finds,
/// and bad rows are refused before anything is written.
final class LlavaImageCalibrationTests: XCTestCase {
    var directory = ""
    var model = ""

    static let questions = ["What is in the picture?", "Describe the image.", "What colour is the top left corner?",
                            "Is there a cat?", "Count the dots.", "What is the brightest part?", "Where is the line?",
                            "Name the shapes you see.", "Is it day or night?", "What stands out?"]

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-llava-calibration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        model = try TinyLlava.model(in: directory)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Rows in LLaVA-Instruct's form, each with the fixture's PNG; or the same questions as Alpaca rows, no image.
    func calibration(images: Bool, rows: [String]? = nil) throws -> String {
        let lines = rows ?? Self.questions.map { question in
            let escaped = String(data: try! JSONSerialization.data(withJSONObject: question, options: .fragmentsAllowed), encoding: .utf8)!
            return images ? #"{"image": "llava/image.png", "conversations": [{"from": "human", "value": "<image>\n"#
                + escaped.dropFirst().dropLast() + #""}]}"# : #"{"instruction": "# + escaped + "}"
        }
        let path = directory + (images ? "/images-\(UUID().uuidString).jsonl" : "/text.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func prune(_ calibration: String, out: String, format: String = "safetensors", _ extra: [String] = []) -> [String] {
        ["prune", model, "--target", "0.2", "--calibration", calibration, "--calibration-samples", "8", "--out", out,
         "--format", format, "--json"] + extra
    }

    func testPruningOnImagesKeepsTheEyesAndDiffersFromText() throws {
        let out = directory + "/images"
        let run = try MopProcess.run(prune(try calibration(images: true), out: out), timeout: 300,
                                     environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("the vision tower saw the 8 calibration images (16 feature rows each)"), run.stderr)
        let outcome = try PruneOutcome(run, directory: out)
        let compression = try XCTUnwrap(outcome.json["compression"] as? Double)
        XCTAssertGreaterThan(compression, 0.19)
        // Every vision and projector tensor byte for byte the original's; config.json still a LLaVA's.
        let before = try TinyLlava.rawTensors(model + "/model.safetensors"), after = try TinyLlava.rawTensors(out + "/hf/model.safetensors")
        let vision = before.keys.filter { !$0.hasPrefix("language_model.") }
        XCTAssertEqual(vision.count, 59)
        for name in vision { XCTAssertEqual(after[name], before[name], name) }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/hf/config.json"))) as? [String: Any]
        XCTAssertEqual(config?["model_type"] as? String, "llava")

        // The same questions without the image: other calibration tokens, another dense loss, other candidate losses.
        let textOut = directory + "/text"
        let text = try MopProcess.run(prune(try calibration(images: false), out: textOut), timeout: 300,
                                      environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let textOutcome = try PruneOutcome(text, directory: textOut)
        let calibrationOf = { (outcome: PruneOutcome) in outcome.json["calibration"] as? [String: Any] ?? [:] }
        let tokens = try XCTUnwrap(calibrationOf(outcome)["tokens"] as? Int), textTokens = try XCTUnwrap(calibrationOf(textOutcome)["tokens"] as? Int)
        XCTAssertGreaterThan(tokens, textTokens + 8 * 8, "each prompt holds 16 image rows")
        XCTAssertEqual(calibrationOf(outcome)["images"] as? Int, 8)
        XCTAssertNil(calibrationOf(textOutcome)["images"])
        let loss = try XCTUnwrap(calibrationOf(outcome)["dense_loss"] as? Double)
        let textLoss = try XCTUnwrap(calibrationOf(textOutcome)["dense_loss"] as? Double)
        XCTAssertGreaterThan(abs(loss - textLoss), 1e-3)
        let first = try XCTUnwrap(outcome.iterations.first), textFirst = try XCTUnwrap(textOutcome.iterations.first)
        XCTAssertNotEqual(first["width_loss"] as? Double, textFirst["width_loss"] as? Double)
    }

    /// (A LLaVA directory is written back by one process, so `--stages` is shown on llama.cpp's pair, in
    /// `MmprojCommandTests`.)
    func testTwoRanksMatchOneProcess() throws {
        let rows = try calibration(images: true)
        let one = directory + "/one"
        let single = try MopProcess.run(prune(rows, out: one), timeout: 300, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try PruneOutcome(single, directory: one)
        for flags in [[], ["--broadcast-weights"], ["--dedicated-coordinator"]] {
            let out = directory + "/two" + flags.joined()
            let run = try MopProcess.mpirun(ranks: 2, prune(rows, out: out, flags), timeout: 300)
            XCTAssertEqual(run.status, 0, "\(flags): \(run.stderr)")
            let outcome = try PruneOutcome(run, directory: out)
            outcome.assertSameSearch(as: reference, "\(flags)")
            let dense = (outcome.json["calibration"] as? [String: Any])?["dense_loss"] as? Double
            let expected = try XCTUnwrap((reference.json["calibration"] as? [String: Any])?["dense_loss"] as? Double)
            XCTAssertEqual(try XCTUnwrap(dense), expected, accuracy: 1e-5 * expected, "\(flags)")
        }
    }

    func testBadImageRowsAreRefusedBeforeAnythingIsWritten() throws {
        let good = #"{"image": "llava/image.png", "text": "USER: <image>\nHi ASSISTANT:"}"#
        let textModel = try PruneFixtures.tinyModel(in: directory)
        let cases: [(model: String, rows: [String], extra: [String], message: String)] = [
            (model, [good, #"{"image": "llava/none.png", "text": "<image> hi"}"#], [], "line 2: image"),
            (model, [good, #"{"image": "llava/config.json", "text": "<image> hi"}"#], [], "line 2: image"),
            (model, [good, #"{"image": "llava/image.png", "text": "hi"}"#], [], "line 2: the prompt holds 0 <image> markers"),
            (textModel, [good, good], [], "line 1: an image row, but the model has no vision tower"),
            (model, [good, good], ["--finetune"], "holds image rows, and --finetune trains on text only"),
        ]
        for (index, entry) in cases.enumerated() {
            let rows = try calibration(images: true, rows: entry.rows + (0..<8).map { _ in good })
            let out = directory + "/refused-\(index)"
            let run = try MopProcess.run(["prune", entry.model, "--target", "0.2", "--calibration", rows, "--calibration-samples", "8",
                                          "--out", out] + entry.extra, timeout: 120)
            XCTAssertNotEqual(run.status, 0, entry.message)
            XCTAssertTrue(run.stderr.contains(rows + ": ") && run.stderr.contains(entry.message), run.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/structure.json"), entry.message)
        }
    }
}
