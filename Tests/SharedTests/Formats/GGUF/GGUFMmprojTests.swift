import XCTest
@testable import Shared

/// llama.cpp's pair of the tiny LLaVA (scripts/make-llava-fixture.py): its language model as a GGUF and its tower and
/// projector as an mmproj in the legacy converter's layout, read back against what transformers computed.
final class GGUFMmprojTests: XCTestCase {
    /// The fixture's directory and the pair mop writes from it (as a prune's export does): the language model's GGUF
    /// and the mmproj.
    func pair() throws -> (reference: LlavaFixture.Reference, directory: String, model: String, mmproj: String) {
        let reference = try LlavaFixture.reference()
        let directory = try LlavaFixture.directory(self, reference, rename: { $0 }, carry: true)
        let weights = try HFModelDirectory.load(path: directory, storage: .fp32)
        let model = directory + "/model.gguf", mmproj = directory + "/mmproj-model-f16.gguf"
        // mop's GGUF states a SentencePiece tokenizer by piece scores, which the fixture's tokenizer.json (a merges list) has not.
        try GGUFWriter.write(weights: weights, tokenizer: nil, to: model, type: .f32)
        try LlavaExport.writeMmproj(original: directory, text: weights.config, to: mmproj)
        return (reference, directory, model, mmproj)
    }

    /// Text-only logits from the language model GGUF within 1e-4 of transformers'; the image's through the mmproj
    /// (f16 matrices) within 1e-3; the mmproj holds the 2 layers the features come from, fc1 as ffn_down.
    func testPairGivesTransformersLogits() throws {
        let (reference, _, model, mmproj) = try pair()
        let (weights, _) = try GGUFModel.load(path: model, storage: .fp32)
        let transformer = Transformer(weights: weights)
        let text = transformer.logits(reference.text.tokens)
        XCTAssertLessThan(relativeError(text.data, Array(reference.text.logits.joined())), 1e-4)

        let (vision, preprocessor) = try GGUFMmproj.read(path: mmproj, text: weights.config, imageTokenId: 384)
        XCTAssertEqual(preprocessor.normalize?.mean, [0.48145466, 0.4578275, 0.40821073], "preprocessor_config.json's")
        XCTAssertEqual(vision.config.layers, 2)
        XCTAssertEqual(vision.config.featureLayers, 2)
        XCTAssertEqual(vision.config.imageTokens, 16)
        let file = try GGUFFile(path: mmproj)
        XCTAssertEqual(file.tensor(named: "v.blk.1.ffn_down.weight")?.shape, [40, 32])
        XCTAssertEqual(file.tensor(named: "v.patch_embd.weight")?.type, .f16)
        XCTAssertNil(file.tensor(named: "v.blk.2.ln1.weight"))
        let features = vision.features(pixels: reference.image.pixel_values)
        let logits = try vision.logits(transformer, tokens: reference.image.expanded, features: features)
        let expected = Array(reference.image.logits.joined())
        XCTAssertLessThan(relativeError(logits.data, expected), 1e-3)
        // The tower's layers matter: one fewer (llama.cpp's mtmd runs one fewer) gives other logits.
        let short = LlavaVision(config: LlavaVision.Config(
            hidden: 32, intermediate: 40, layers: 2, heads: 4, imageSize: 32, patchSize: 8, channels: 3, eps: 1e-5,
            activation: .quickGelu, featureLayers: 1, projectorBias: true, imageTokenId: 384, textHidden: 48), tensors: vision.tensors)
        let shortLogits = try short.logits(transformer, tokens: reference.image.expanded, features: short.features(pixels: reference.image.pixel_values))
        XCTAssertGreaterThan(relativeError(shortLogits.data, expected), 1e-2)
    }

    /// Writing and reading again gives the tower's tensors back: vectors exactly, f16 matrices within f16's rounding.
    func testRoundTrip() throws {
        let (_, directory, _, mmproj) = try pair()
        let weights = try HFModelDirectory.load(path: directory, storage: .fp32)
        let original = try XCTUnwrap(try LlavaVision.load(path: directory, text: weights.config))
        let (read, _) = try GGUFMmproj.read(path: mmproj, text: weights.config, imageTokenId: 384)
        for (name, tensor) in read.tensors {
            let source = try XCTUnwrap(original.tensors[name], name)
            XCTAssertEqual(tensor.shape, source.shape, name)
            if tensor.shape.count == 1 {
                XCTAssertEqual(tensor.data, source.data, name)
            } else {
                for (a, b) in zip(tensor.data, source.data) { XCTAssertEqual(a, b, accuracy: abs(b) / 1024 + 1e-7, name) }
            }
        }
        XCTAssertEqual(read.tensors.count, original.tensors.count - 16 - 2, "layer 2's 16 tensors and the final LayerNorm dropped")
    }

    /// llama.cpp's letterbox: the 48 x 40 fixture image fitted to 32 x 27 (27 = ceil(40 * 32/48)), rows 2..<29, the
    /// other rows the fill colour normalised; a square image of the tower's size is not resampled.
    func testLetterboxFitsTheImageAsLlamaCpp() throws {
        let mean: [Float] = [0.5, 0.4, 0.3], std: [Float] = [0.25, 0.2, 0.5]
        let preprocessor = ImagePreprocessor(letterboxTo: 32, fill: GGUFMmproj.padColor, mean: mean, std: std)
        let image = try RGBImage.decode(path: LlavaFixture.path.appendingPathComponent("image.png").path)
        XCTAssertEqual([image.width, image.height], [48, 40])
        let (values, height, width) = try preprocessor.pixels(of: image, file: "image.png")
        XCTAssertEqual([height, width], [32, 32])
        let scaled = PillowResample.resize(image.bytes, width: 48, height: 40, newWidth: 32, newHeight: 27, filter: .bicubic)
        for channel in 0..<3 {
            let fill = (Float(GGUFMmproj.padColor[channel]) / 255 - mean[channel]) / std[channel]
            for row in 0..<32 {
                for column in 0..<32 {
                    let value = values[(channel * 32 + row) * 32 + column]
                    let byte = (2..<29).contains(row) ? Float(scaled[((row - 2) * 32 + column) * 3 + channel]) : nil
                    let expected = byte.map { ($0 / 255 - mean[channel]) / std[channel] } ?? fill
                    XCTAssertEqual(value, expected, accuracy: 1e-5, "channel \(channel) row \(row) column \(column)")
                }
            }
        }
        let square = RGBImage(width: 32, height: 32, bytes: (0..<32 * 32 * 3).map { UInt8($0 % 251) })
        let (same, _, _) = try preprocessor.pixels(of: square, file: "square")
        XCTAssertEqual(same[32 * 5 + 7], (Float(square.bytes[(5 * 32 + 7) * 3]) / 255 - mean[0]) / std[0], accuracy: 1e-6)
    }

    /// The copy beside a pruned model is the file byte for byte.
    func testCopyIsByteEqual() throws {
        let (_, directory, _, mmproj) = try pair()
        try GGUFMmproj.copy(mmproj, to: directory + "/copy.gguf")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/copy.gguf")), try Data(contentsOf: URL(fileURLWithPath: mmproj)))
    }

    /// Refused by name: a language model given as the mmproj, another projector, a tensor missing, a stray tensor
    /// (LLaVA-1.6's newline), a projector of another width than the language model's.
    func testMalformedMmprojIsRefused() throws {
        let (_, directory, model, mmproj) = try pair()
        let text = try ModelLoader.describe(path: model).config
        XCTAssertThrowsError(try GGUFMmproj.check(path: model, text: text)) { error in
            XCTAssertTrue("\(error)".contains("general.architecture is llama"), "\(error)")
        }
        let file = try GGUFFile(path: mmproj)
        func rewrite(_ name: String, metadata edit: (inout [(key: String, value: GGUFValue)]) -> Void = { _ in },
                     tensors keep: (String) -> Bool = { _ in true }, extra: [GGUFTensorData] = []) throws -> String {
            var metadata = file.metadataKeys.map { (key: $0, value: file.metadata[$0]!) }
            edit(&metadata)
            let tensors = try file.tensors.filter { keep($0.name) }.map {
                GGUFTensorData(name: $0.name, rows: TensorRows(try file.dequantize($0)), type: $0.type, importance: nil)
            }
            let path = directory + "/" + name
            try GGUFFileWriter.write(metadata: metadata, tensors: tensors + extra, to: path)
            return path
        }
        let newline = GGUFTensorData(name: "v.image_newline", rows: TensorRows(Tensor(zeros: [48])), type: .f32, importance: nil)
        let cases: [(path: String, text: ModelConfig, message: String)] = [
            (try rewrite("ldp.gguf", metadata: { entries in
                for index in entries.indices where entries[index].key == "clip.projector_type" { entries[index].value = .string("ldp") }
             }),
             text, "projector ldp is not"),
            (try rewrite("missing.gguf", tensors: { $0 != "v.blk.1.attn_k.bias" }), text, "missing tensor v.blk.1.attn_k.bias"),
            (try rewrite("newline.gguf", extra: [newline]), text, "v.image_newline"),
            (mmproj, TinyConfigs.mha, "the language model's hidden size is \(TinyConfigs.mha.hidden)"),
        ]
        for entry in cases {
            XCTAssertThrowsError(try GGUFMmproj.read(path: entry.path, text: entry.text, imageTokenId: 384)) { error in
                XCTAssertTrue("\(error)".contains(entry.message), "\(error)")
            }
        }
    }
}
