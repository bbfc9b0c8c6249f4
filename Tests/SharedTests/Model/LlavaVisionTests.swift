import XCTest
@testable import Shared

/// LLaVA's CLIP tower, projector and image-token expansion against what transformers computed for the tiny LLaVA
/// (scripts/make-llava-fixture.py): the logits of a prompt holding the image, in every key layout.
final class LlavaVisionTests: XCTestCase {
    func load(_ path: String) throws -> (Transformer, LlavaVision) {
        let weights = try HFModelDirectory.load(path: path, storage: .fp32)
        let vision = try XCTUnwrap(try LlavaVision.load(path: path, text: weights.config))
        return (Transformer(weights: weights), vision)
    }

    /// The processor's pixel values through the tower (2 of 3 layers, CLS dropped), the projector and the expanded
    /// prompt: transformers' logits within 1e-3, and the image matters (zero pixels give other logits).
    func testImageLogitsEqualTransformersInEveryLayout() throws {
        let reference = try LlavaFixture.reference()
        for layout in LlavaFixture.layouts {
            let (transformer, vision) = try load(try LlavaFixture.directory(self, reference, rename: layout.rename))
            XCTAssertEqual(vision.config.featureLayers, 2)
            XCTAssertEqual(vision.config.imageTokens, 16)
            XCTAssertEqual(vision.expand(reference.image.prompt), reference.image.expanded)
            let features = vision.features(pixels: reference.image.pixel_values)
            let logits = try vision.logits(transformer, tokens: reference.image.expanded, features: features)
            let expected = Array(reference.image.logits.joined())
            XCTAssertLessThan(relativeError(logits.data, expected), 1e-3, layout.name)
            let blank = vision.features(pixels: [Float](repeating: 0, count: reference.image.pixel_values.count))
            let blankLogits = try vision.logits(transformer, tokens: reference.image.expanded, features: blank)
            XCTAssertGreaterThan(relativeError(blankLogits.data, expected), 1e-2, layout.name)
        }
    }

    /// The calibration loss of the image prompt (image rows no targets, as transformers' labels -100 them) from the
    /// features put in place by the one seam (`FeatureRows` through `Transformer.hiddenStates`) equals the loss
    /// computed in float64 from transformers' logits of the same prompt.
    func testImagePromptLossEqualsTheLossOfTransformersLogits() throws {
        let reference = try LlavaFixture.reference()
        let (transformer, vision) = try load(try LlavaFixture.directory(self, reference, rename: { $0 }))
        let tokens = reference.image.expanded
        let features = try vision.place(vision.features(pixels: reference.image.pixel_values), in: tokens)
        XCTAssertEqual(features.map(\.rows), vision.imageRuns(tokens))
        XCTAssertEqual(features.first?.rows.count, 16)
        let targets = NextTokenLoss.targets([tokens], features: features)
        let loss = NextTokenLoss.sum(hidden: transformer.hiddenStates([tokens], features: features), targets: targets,
                                     output: transformer.weights.head)
        var expected = 0.0, count = 0
        for t in 0..<(tokens.count - 1) where tokens[t + 1] != vision.config.imageTokenId {
            let row = reference.image.logits[t], top = row.max()!
            expected += top + log(row.reduce(0) { $0 + exp($1 - top) }) - row[Int(tokens[t + 1])]
            count += 1
        }
        XCTAssertEqual(targets.count, count)
        XCTAssertEqual(count, tokens.count - 1 - 16)
        XCTAssertEqual(loss, expected, accuracy: 1e-4 * expected)
    }

    /// A prompt whose image tokens do not match the features is refused, not run with rows of nothing.
    func testImageTokenCountMustMatchFeatures() throws {
        let reference = try LlavaFixture.reference()
        let (transformer, vision) = try load(try LlavaFixture.directory(self, reference, rename: { $0 }))
        let features = vision.features(pixels: reference.image.pixel_values)
        XCTAssertThrowsError(try vision.logits(transformer, tokens: reference.image.prompt, features: features)) { error in
            XCTAssertTrue("\(error)".contains("holds 1 image tokens"), "\(error)")
        }
    }

    /// A missing vision tensor, one of the wrong shape, a stray one, a vision tower other than CLIP: each refused by name.
    func testMalformedVisionPartsAreRefused() throws {
        let reference = try LlavaFixture.reference()
        let fc1 = "model.vision_tower.encoder.layers.1.mlp.fc1.weight"
        let cases: [(omit: Set<String>, extra: [(name: String, tensor: Tensor)], config: String?, message: String)] = [
            ([fc1], [], nil, "missing tensor vision_tower.encoder.layers.1.mlp.fc1.weight"),
            ([fc1], [(fc1, Tensor(shape: [40, 31], data: [Float](repeating: 0, count: 40 * 31)))], nil, "vision_config implies [40, 32]"),
            ([], [("vision_tower.encoder.layers.7.mlp.fc1.bias", Tensor(shape: [40], data: [Float](repeating: 0, count: 40)))], nil,
             "vision_config (3 layers) does not account for"),
            ([], [], try String(contentsOf: LlavaFixture.path.appendingPathComponent("config.json"), encoding: .utf8)
                .replacingOccurrences(of: "clip_vision_model", with: "siglip_vision_model"), "siglip_vision_model"),
        ]
        for entry in cases {
            let path = try LlavaFixture.directory(self, reference, rename: { $0 }, config: entry.config, omit: entry.omit, extra: entry.extra)
            let text = try HFConfig.parse(data: try RegularFile.read(path + "/config.json"), file: path)
            XCTAssertThrowsError(try LlavaVision.load(path: path, text: text)) { error in
                XCTAssertTrue("\(error)".contains(entry.message), "\(error)")
            }
        }
        // A plain language model's directory has no vision part.
        let family = try SafetensorsTestSupport.temporaryDirectory(self)
        try HFModelDirectory.write(ModelWeights.random(config: TinyConfigs.mha, seed: 1), to: family)
        XCTAssertNil(try LlavaVision.load(path: family, text: TinyConfigs.mha))
    }
}
