import XCTest
@testable import Shared

/// The same tiny random model written as GGUF and as a Hugging Face directory, read back through `ModelLoader`:
/// both give the logits of the float64 reference forward, and exactly the same logits as each other.
final class ModelLoaderTests: XCTestCase {
    static let configs: [(String, ModelConfig)] = [
        ("mha-tied", TinyConfigs.make(heads: 4, kvHeads: 4, tied: true)),
        ("mha-untied", TinyConfigs.make(heads: 4, kvHeads: 4, tied: false)),
        ("gqa-tied", TinyConfigs.make(heads: 4, kvHeads: 2, tied: true)),
        ("gqa-untied", TinyConfigs.make(heads: 4, kvHeads: 1, tied: false)),
        ("non-uniform", TinyConfigs.nonUniform),
    ]

    func temporaryDirectory() throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testGGUFAndSafetensorsGiveIdenticalLogitsEqualToTheReference() throws {
        let directory = try temporaryDirectory()
        for (name, config) in Self.configs {
            let weights = ModelWeights.random(config: config, seed: 21)
            let gguf = directory + "/\(name).gguf", hf = directory + "/\(name)-hf"
            try GGUFWriter.write(weights: weights, tokenizer: nil, to: gguf, type: .f32)
            try HFModelDirectory.write(weights, to: hf)
            let fromGGUF = try ModelLoader.load(path: gguf), fromHF = try ModelLoader.load(path: hf)
            XCTAssertEqual(fromGGUF.format, .gguf)
            XCTAssertEqual(fromHF.format, .huggingFace)
            XCTAssertEqual(fromGGUF.weights, weights, name)
            XCTAssertEqual(fromHF.weights, weights, name)

            let tokens = TinyConfigs.tokens(count: 11, vocab: config.vocabSize, seed: 9)
            let a = Transformer(weights: fromGGUF.weights).logits(tokens)
            let b = Transformer(weights: fromHF.weights).logits(tokens)
            XCTAssertEqual(a, b, name)
            let reference = ReferenceLlama.logits(weights, tokens: tokens).flatMap { $0 }
            XCTAssertLessThan(relativeError(a.data, reference), 1e-4, name)

            XCTAssertEqual(try ModelLoader.describe(path: gguf).config, config, name)
            XCTAssertEqual(try ModelLoader.describe(path: hf).config.layers, config.layers, name)
            // Every tensor is F32 in both files, counted from the headers.
            for path in [gguf, hf] {
                let types = try ModelLoader.describe(path: path).tensorTypes
                XCTAssertEqual(types.map(\.type), [.f32], path)
                XCTAssertEqual(types.map(\.count), [weights.namedTensors().count], path)
            }
        }
    }

    /// tokenizer.json has no EOS; the loader takes it from config.json, so that a written directory can be fine-tuned.
    func testHuggingFaceDirectoryKeepsTheEOSOfConfigJSON() throws {
        let directory = try temporaryDirectory(), config = TinyConfigs.gqa
        let vocabulary = (0..<config.vocabSize).map { ByteLevel.encode([UInt8($0)]) }
        let spec = TokenizerSpec(vocabulary: vocabulary, merges: [], preTokenizer: .gpt2, specialTokenIds: [60],
                                 bosTokenId: nil, eosTokenId: 60, addBos: false)
        try HFModelDirectory.write(.random(config: config, seed: 1), to: directory + "/hf",
                                   specialTokens: HFSpecialTokenIds(eos: [60]))
        try TokenizerJSON.write(spec, to: directory + "/hf/tokenizer.json")
        XCTAssertEqual(try ModelLoader.load(path: directory).tokenizer?.eosTokenId, 60)
    }

    func testPathsThatAreNoModelAreNamedInTheError() throws {
        let directory = try temporaryDirectory()
        let text = directory + "/notes.txt"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        assertMopError(text, "not a GGUF file") { try ModelLoader.load(path: text) }
        assertMopError(directory + "/absent.gguf", "no such file") { try ModelLoader.load(path: directory + "/absent.gguf") }
        assertMopError(directory + "/config.json", "config.json") { try ModelLoader.describe(path: directory) }
    }
}
