import Foundation
import XCTest
@testable import Shared

/// Image-text calibration files (docs/formats.md#calibration) with the tiny LLaVA's tokenizer and test PNG
/// (scripts/make-llava-fixture.py): each prompt form, the `<image>` expanded to the tower's 16 feature rows at its
/// place, images found beside the file; and every malformed row refused naming the file and its line.
final class ImageCalibrationTests: XCTestCase {
    let images = CalibrationSet.ImageTokens(id: 384, count: 16, markerIsToken: true)
    var directory = ""
    var tokenizer: (any Tokenizer)!

    override func setUpWithError() throws {
        directory = try SafetensorsTestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: directory + "/pictures", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: LlavaFixture.path.appendingPathComponent("image.png").path,
                                         toPath: directory + "/pictures/a.png")
        tokenizer = try XCTUnwrap(try HFModelDirectory.readTokenizer(in: LlavaFixture.path.path)).tokenizer()
    }

    func write(_ rows: [String], name: String = "images.jsonl") throws -> String {
        let path = directory + "/" + name
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The tokens of `prompt` with its one `<image>` (token 384) repeated 16 times.
    func expected(_ prompt: String) -> [Int32] {
        tokenizer.encode(prompt).flatMap { $0 == 384 ? [Int32](repeating: 384, count: 16) : [$0] }
    }

    func testEachPromptFormExpandsItsImageInPlace() throws {
        let absolute = directory + "/pictures/a.png"
        let path = try write([
            #"{"image": "pictures/a.png", "conversations": [{"from": "human", "value": "<image>\nWhat is in the picture?"}, {"from": "gpt", "value": "A cat."}]}"#,
            #"{"image": "pictures/a.png", "instruction": "Describe the image.", "input": "Be brief.", "output": "Dots."}"#,
            "{\"image\": \"\(absolute)\", \"text\": \"A photo <image> of\"}",
        ])
        XCTAssertTrue(try CalibrationSet.holdsImages(path))
        let set = try CalibrationSet.sequences(path: path, tokenizer: tokenizer, count: 3, seqLen: 64, seed: nil, images: images)
        let prompts = ["USER: <image>\nWhat is in the picture? ASSISTANT:",
                       "Instruction: <image>\nDescribe the image.\nInput: Be brief.\nResponse:", "A photo <image> of"]
        for (sequence, prompt) in zip(set, prompts) {
            XCTAssertEqual(sequence.tokens, Array(expected(prompt).prefix(64)), prompt)
            let image = try XCTUnwrap(sequence.image)
            XCTAssertEqual(image.path, absolute, prompt)
            XCTAssertEqual(image.rows.count, 16)
            XCTAssertTrue(sequence.tokens[image.rows].allSatisfy { $0 == 384 }, prompt)
            XCTAssertNotEqual(sequence.tokens[image.rows.upperBound], 384, prompt)
            XCTAssertNotEqual(sequence.tokens[image.rows.lowerBound - 1], 384, prompt)
        }
        // Cut at --seq-len after the image, and a seeded sample of the rows, as for text rows.
        let seqLen = set.map { $0.image!.rows.upperBound }.max()! + 2
        let cut = try CalibrationSet.sequences(path: path, tokenizer: tokenizer, count: 3, seqLen: seqLen, seed: nil, images: images)
        XCTAssertEqual(cut.map(\.tokens), prompts.map { Array(expected($0).prefix(seqLen)) })
        XCTAssertEqual(cut.map(\.image), set.map(\.image))
        let sample = try CalibrationSet.sequences(path: path, tokenizer: tokenizer, count: 2, seqLen: 64, seed: 7, images: images)
        XCTAssertEqual(sample.count, 2)
        XCTAssertTrue(sample.allSatisfy { set.contains($0) })
    }

    /// A vocabulary without `<image>`: the text on each side is encoded alone with the placeholder between.
    func testAMarkerThatIsNoTokenIsPlacedBetweenTheEncodedPieces() throws {
        let path = try write([#"{"image": "pictures/a.png", "text": "Look <image> here"}"#])
        let placeholder = CalibrationSet.ImageTokens(id: 0, count: 3, markerIsToken: false)
        let sequence = try XCTUnwrap(try CalibrationSet.sequences(path: path, tokenizer: tokenizer, count: 1, seqLen: 64, seed: nil,
                                                                  images: placeholder).first)
        let before = tokenizer.encode("Look "), after = tokenizer.encode(" here", addingSpecialTokens: false)
        XCTAssertEqual(sequence.tokens, before + [0, 0, 0] + after)
        XCTAssertEqual(sequence.image?.rows, before.count..<(before.count + 3))
    }

    func testMalformedRowsNameTheFileAndLine() throws {
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: directory + "/pictures/broken.png"))
        let good = #"{"image": "pictures/a.png", "text": "<image> hi"}"#
        let cases: [(rows: [String], images: CalibrationSet.ImageTokens?, seqLen: Int, message: String)] = [
            ([good, #"{"image": "pictures/missing.png", "text": "<image> hi"}"#], images, 64, "line 2: image"),
            ([good, good, #"{"image": "pictures/broken.png", "text": "<image> hi"}"#], images, 64, "line 3: image"),
            ([good], nil, 64, "line 1: an image row, but the model has no vision tower"),
            ([good, #"{"image": "pictures/a.png", "text": "no marker"}"#], images, 64, "line 2: the prompt holds 0 <image> markers"),
            ([#"{"image": "pictures/a.png", "text": "<image><image>"}"#], images, 64, "line 1: the prompt holds 2 <image> markers"),
            ([#"{"image": "pictures/a.png", "instruction": "<image> twice"}"#], images, 64, "line 1: the prompt holds 2 <image> markers"),
            ([good, #"{"image": "pictures/a.png"}"#], images, 64, "line 2: an image row gives its prompt in one of"),
            ([#"{"image": "pictures/a.png", "text": "<image>", "instruction": "x"}"#], images, 64, "has instruction and text"),
            ([#"{"image": "pictures/a.png", "conversations": [{"from": "gpt", "value": "<image>"}]}"#], images, 64,
             "line 1: \"conversations\" must start with"),
            ([good, #"{"image": 3, "text": "<image>"}"#], images, 64, "line 2: field \"image\" is not a string"),
            ([good, #"{"image": "", "text": "<image>"}"#], images, 64, "line 2: field \"image\" is empty"),
            ([#"{"image": "pictures/a.png", "text": "A long prompt before the <image> here"}"#], images, 18,
             "line 1: the image's 16 feature rows take tokens"),
        ]
        for entry in cases {
            let path = try write(entry.rows)
            XCTAssertThrowsError(try CalibrationSet.sequences(path: path, tokenizer: tokenizer, count: entry.rows.count, seqLen: entry.seqLen,
                                                              seed: nil, images: entry.images), entry.message) { error in
                XCTAssertTrue("\(error)".hasPrefix(path + ": ") && "\(error)".contains(entry.message), "\(error)")
            }
        }
        // Rows past the sample are parsed (their fields) but not opened: only the selected rows' images are decoded.
        let later = try write([good, #"{"image": "pictures/missing.png", "text": "<image> hi"}"#])
        XCTAssertEqual(try CalibrationSet.sequences(path: later, tokenizer: tokenizer, count: 1, seqLen: 64, seed: nil, images: images).count, 1)
    }

    /// `FeatureRows` placed by the embedding and excluded from the targets.
    func testFeatureRowsReplaceEmbeddingsAndAreNoTargets() {
        let config = TinyConfigs.mha, d = config.hidden
        let model = Transformer(weights: .random(config: config, seed: 3))
        let batch: [[Int32]] = [[1, 2, 3, 4], [5, 6, 7]]
        // The first two positions of the second sequence, rows 4 and 5 of the batch: row 4 predicts an image row, row
        // 5 the token after the image.
        let feature = FeatureRows(rows: 0..<2, values: (0..<(2 * d)).map { Float($0) / 10 })
        let placed = model.embed(batch, features: [feature.shifted(by: 4)])
        var expected = model.embed(batch)
        expected.replaceSubrange(4 * d..<6 * d, with: feature.values)
        XCTAssertEqual(placed, expected)
        XCTAssertEqual(NextTokenLoss.targets(batch, features: [feature.shifted(by: 4)]).map(\.row), [0, 1, 2, 5])
        XCTAssertEqual(NextTokenLoss.targets(batch).map(\.row), [0, 1, 2, 4, 5])
        XCTAssertEqual(feature.withoutValues, FeatureRows(rows: 0..<2, values: []))
    }
}
