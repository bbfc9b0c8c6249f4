import Foundation
import XCTest
@testable import Shared

final class GGUFRoundTripTests: XCTestCase {
    private var directory: GGUFTemporaryDirectory!

    override func setUpWithError() throws { directory = try GGUFTemporaryDirectory() }
    override func tearDown() { directory.remove() }

    private let mha = [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 4, intermediate: 24), count: 2)
    private let gqa = [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 24), count: 3)
    private let pruned = [LayerShape(heads: 4, kvHeads: 2, intermediate: 24), LayerShape(heads: 2, kvHeads: 1, intermediate: 12),
                          LayerShape(heads: 4, kvHeads: 4, intermediate: 8)]

    /// Writes F32 and reads back: identical weights, config and tokenizer; the architecture follows uniformity.
    /// Returns the file's path.
    @discardableResult
    private func assertExactRoundTrip(_ layers: [LayerShape], tied: Bool, family: Architecture = .llama, architecture: String,
                                      tokenizer: TokenizerSpec?, line: UInt = #line) throws -> String {
        var config = GGUFTestModels.config(layers, tied: tied)
        config.architecture = family
        let weights = ModelWeights.random(config: config, seed: 7)
        let path = directory.file("model-\(line).gguf")
        try GGUFWriter.write(weights: weights, tokenizer: tokenizer, to: path, type: .f32)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"), line: line)

        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.architecture, architecture, line: line)
        XCTAssertEqual(file.tensor(named: "output.weight") == nil, tied, line: line)
        XCTAssertTrue(file.tensors.allSatisfy { $0.type == .f32 && ($0.offset - file.dataOffset) % 32 == 0 }, line: line)

        let (read, readTokenizer) = try GGUFModel.load(path: path)
        XCTAssertEqual(read.config, weights.config, line: line)
        XCTAssertEqual(read, weights, line: line)
        XCTAssertEqual(readTokenizer, tokenizer, line: line)
        return path
    }

    func testUniformMHAUntiedIsLlamaAndExact() throws {
        try assertExactRoundTrip(mha, tied: false, architecture: "llama", tokenizer: GGUFTestModels.tokenizer())
    }

    func testUniformGQATiedIsLlamaAndExact() throws {
        try assertExactRoundTrip(gqa, tied: true, architecture: "llama", tokenizer: GGUFTestModels.tokenizer(pre: .gpt2, template: nil))
    }

    func testNonUniformIsDeciWithPerLayerArraysAndExact() throws {
        try assertExactRoundTrip(pruned, tied: false, architecture: "deci", tokenizer: nil)
        let path = try assertExactRoundTrip(pruned, tied: true, architecture: "deci", tokenizer: GGUFTestModels.tokenizer())
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.metadata["deci.attention.head_count"], .array(.int32, [.int32(4), .int32(2), .int32(4)]))
        XCTAssertEqual(file.metadata["deci.attention.head_count_kv"], .array(.int32, [.int32(2), .int32(1), .int32(4)]))
        XCTAssertEqual(file.metadata["deci.feed_forward_length"], .array(.int32, [.int32(24), .int32(12), .int32(8)]))
    }

    /// A vocabulary shorter than the embedding (llava-hf's LLaVA-1.5: 32,002 tokens, 32,064 rows) is written with
    /// [PAD] tokens up to the rows, as llama.cpp's converter writes it, since llama.cpp refuses fewer tokens than rows.
    func testTheWrittenVocabularyIsPaddedToTheEmbeddingRows() throws {
        let weights = ModelWeights.random(config: GGUFTestModels.config(mha, tied: true), seed: 7)
        let full = GGUFTestModels.tokenizer()
        var short = full
        short.vocabulary.removeLast(3)
        let path = directory.file("short-vocabulary.gguf")
        try GGUFWriter.write(weights: weights, tokenizer: short, to: path, type: .f32)

        let file = try GGUFFile(path: path)
        let tokens = try XCTUnwrap(file.metadata["tokenizer.ggml.tokens"]?.array)
        XCTAssertEqual(tokens.count, weights.config.vocabSize)
        XCTAssertEqual(tokens.suffix(3), [.string("[PAD37]"), .string("[PAD38]"), .string("[PAD39]")])
        XCTAssertEqual(file.metadata["tokenizer.ggml.token_type"]?.array?.suffix(3).map(\.int), [5, 5, 5],
                       "pads are unused tokens")
        let (read, readTokenizer) = try GGUFModel.load(path: path)
        XCTAssertEqual(read, weights)
        XCTAssertEqual(Array(try XCTUnwrap(readTokenizer).vocabulary.prefix(short.vocabulary.count)), short.vocabulary)
    }

    /// Qwen2 with its original shapes is written as `qwen2`, Q/K rows and biases in Hugging Face order, as its
    /// converter does; pruned shapes, which llama.cpp's qwen2 loader cannot take, as `deci` with per-layer arrays and
    /// Q/K rows and biases permuted for deci's RoPE. Both read back exactly, as Qwen2 (the biases tell).
    func testQwen2IsQwen2WhenLlamaCppCanLoadItElseDeciWithBiases() throws {
        let uniformPath = try assertExactRoundTrip(gqa, tied: false, family: .qwen2, architecture: "qwen2",
                                                   tokenizer: GGUFTestModels.tokenizer(pre: .qwen2))
        let prunedPath = try assertExactRoundTrip(pruned, tied: false, family: .qwen2, architecture: "deci", tokenizer: nil)
        let deci = try GGUFFile(path: prunedPath)
        XCTAssertEqual(deci.metadata["deci.attention.head_count"], .array(.int32, [.int32(4), .int32(2), .int32(4)]))
        XCTAssertEqual(deci.metadata["deci.feed_forward_length"], .array(.int32, [.int32(24), .int32(12), .int32(8)]))

        func stored(_ file: GGUFFile, _ name: String) throws -> [Float] {
            let info = try XCTUnwrap(file.tensor(named: name))
            let raw = try file.rawBytes(of: info)
            return (0..<info.elementCount).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
        for (path, layers, permuted) in [(uniformPath, gqa, false), (prunedPath, pruned, true)] {
            var config = GGUFTestModels.config(layers, tied: false)
            config.architecture = .qwen2
            let block = ModelWeights.random(config: config, seed: 7).layers[1], shape = layers[1]
            let file = try GGUFFile(path: path)
            for (name, role, heads) in [("attn_q.weight", BlockTensor.Role.q, shape.heads), ("attn_q.bias", .qBias, shape.heads),
                                        ("attn_k.weight", .k, shape.kvHeads), ("attn_k.bias", .kBias, shape.kvHeads)] {
                let tensor = block[role]!
                let expected = permuted ? GGUFRopeOrder.toGGUF(tensor, heads: heads, headDim: 4).data : tensor.data
                XCTAssertEqual(try stored(file, "blk.1.\(name)"), expected, "\(path) \(name)")
            }
            XCTAssertEqual(try stored(file, "blk.1.attn_v.bias"), block[.vBias]!.data, "V is stored as is")
            XCTAssertEqual(file.tensor(named: "blk.1.attn_q.bias")?.dimensions, [shape.heads * 4])
        }
    }

    func testF16StoresMatricesRoundedAndNormsExact() throws {
        let weights = ModelWeights.random(config: GGUFTestModels.config(gqa, tied: false), seed: 3)
        let path = directory.file("f16.gguf")
        try GGUFWriter.write(weights: weights, tokenizer: nil, to: path, type: .f16)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.metadata["general.file_type"], .uint32(1))
        XCTAssertEqual(file.tensor(named: "blk.0.attn_norm.weight")?.type, .f32)
        XCTAssertEqual(file.tensor(named: "output_norm.weight")?.type, .f32)
        XCTAssertEqual(file.tensor(named: "blk.2.ffn_down.weight")?.type, .f16)
        XCTAssertEqual(file.tensor(named: "token_embd.weight")?.type, .f16)

        let (read, tokenizer) = try GGUFModel.load(path: path)
        XCTAssertNil(tokenizer)
        XCTAssertEqual(read.config, weights.config)
        var changed = 0
        for ((name, original), (_, loaded)) in zip(weights.namedTensors(), read.namedTensors()) {
            let expected = original.shape.count == 1 ? original.data : original.data.map { Float(Float16($0)) }
            XCTAssertEqual(loaded.data, expected, name)
            changed += zip(original.data, loaded.data).filter { $0 != $1 }.count
        }
        XCTAssertGreaterThan(changed, 0, "F16 rounding should change some weights")
    }

    func testMetadataValuesAndGeometryAreWhatLlamaCppReads() throws {
        let weights = ModelWeights.random(config: GGUFTestModels.config(gqa, tied: true), seed: 5)
        let path = directory.file("meta.gguf")
        try GGUFWriter.write(weights: weights, tokenizer: GGUFTestModels.tokenizer(), to: path, type: .f32)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.metadata["llama.block_count"], .uint32(3))
        XCTAssertEqual(file.metadata["llama.attention.head_count_kv"], .uint32(2))
        XCTAssertEqual(file.metadata["llama.rope.freq_base"], .float32(50000))
        XCTAssertEqual(file.metadata["tokenizer.ggml.pre"], .string("smollm"))
        XCTAssertEqual(file.metadata["tokenizer.ggml.token_type"]?.array?.prefix(4).map(\.int), [3, 3, 3, 1])
        XCTAssertEqual(file.metadata["tokenizer.ggml.padding_token_id"], .uint32(2))
        XCTAssertEqual(file.metadata["tokenizer.ggml.unknown_token_id"], .uint32(0))
        XCTAssertEqual(file.dataOffset % 32, 0)
        // GGUF dimensions are innermost first: the [V, D] embedding is stored as [D, V].
        XCTAssertEqual(file.tensor(named: "token_embd.weight")?.dimensions, [16, 40])
        XCTAssertEqual(file.tensor(named: "blk.1.attn_k.weight")?.dimensions, [16, 8])
        XCTAssertEqual(file.tensor(named: "blk.1.ffn_down.weight")?.dimensions, [24, 16])
    }

    /// The permutation spelled out on one 4-row head: HF rows [r0, r1, r2, r3] are stored as [r0, r2, r1, r3].
    func testRopeOrderOnOneHead() {
        let hf = Tensor(shape: [4, 2], data: [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5])
        let gguf = GGUFRopeOrder.toGGUF(hf, heads: 1, headDim: 4)
        XCTAssertEqual(gguf.data, [0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5])
        XCTAssertEqual(GGUFRopeOrder.toHF(gguf, heads: 1, headDim: 4), hf)
    }

    /// Reads the stored Q/K rows raw and compares with numpy's reshape(heads, 2, hd/2, D).swapaxes(1, 2), indexed naively.
    func testStoredQKRowsArePermutedPerHeadAndReadingUndoesIt() throws {
        let config = ModelConfig(vocabSize: 12, hidden: 16, headDim: 8, layers: [LayerShape(heads: 2, kvHeads: 1, intermediate: 8)],
                                 tiedEmbeddings: true)
        let weights = ModelWeights.random(config: config, seed: 11)
        let path = directory.file("perm.gguf")
        try GGUFWriter.write(weights: weights, tokenizer: nil, to: path, type: .f32)
        let file = try GGUFFile(path: path)

        func stored(_ name: String) throws -> [Float] {
            let info = try XCTUnwrap(file.tensor(named: name))
            let raw = try file.rawBytes(of: info)
            return (0..<info.elementCount).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
        func numpyPermuted(_ w: Tensor, heads: Int) -> [Float] {
            let half = config.headDim / 2, d = w.cols
            var out = [Float](repeating: .nan, count: w.count)
            for h in 0..<heads {
                for a in 0..<2 {
                    for b in 0..<half {
                        for c in 0..<d {
                            // element [h][a][b][c] of the reshaped array moves to [h][b][a][c]
                            out[((h * half + b) * 2 + a) * d + c] = w.data[((h * 2 + a) * half + b) * d + c]
                        }
                    }
                }
            }
            return out
        }
        let q = weights.layers[0][.q]!, k = weights.layers[0][.k]!
        XCTAssertEqual(try stored("blk.0.attn_q.weight"), numpyPermuted(q, heads: 2))
        XCTAssertEqual(try stored("blk.0.attn_k.weight"), numpyPermuted(k, heads: 1))
        XCTAssertNotEqual(try stored("blk.0.attn_q.weight"), q.data)
        XCTAssertEqual(try stored("blk.0.attn_v.weight"), weights.layers[0][.v]!.data, "V is stored as is")

        let read = try GGUFModel.weights(of: file)
        XCTAssertEqual(read.layers[0][.q]!, q)
        XCTAssertEqual(read.layers[0][.k]!, k)
    }

    /// llama.cpp takes per-layer keys as a scalar or an array, head_count_kv defaulting to head_count and the head
    /// dimension to hidden / heads; without vocab_size or tokens the vocabulary is token_embd's outer dimension.
    func testConfigAcceptsArraysForLlamaAndLlamaCppDefaults() throws {
        let meta: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")), ("llama.block_count", .uint32(2)), ("llama.embedding_length", .uint32(16)),
            ("llama.attention.head_count", .array(.uint32, [.uint32(4), .uint32(4)])), ("llama.feed_forward_length", .uint64(24)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)), ("llama.context_length", .uint32(128)),
        ]
        let tensors = [(name: "token_embd.weight", dims: [UInt64(16), 10], type: UInt32(1), offset: UInt64(0)),
                       (name: "output.weight", dims: [UInt64(16), 10], type: UInt32(1), offset: UInt64(320))]
        let path = directory.file("defaults.gguf")
        try Data(GGUFHandBuilt.file(metadata: meta, tensors: tensors, dataBytes: 640)).write(to: URL(fileURLWithPath: path))
        let config = try GGUFModel.config(of: GGUFFile(path: path))
        XCTAssertEqual(config.layers, [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 4, intermediate: 24), count: 2))
        XCTAssertEqual(config.headDim, 4)
        XCTAssertEqual(config.vocabSize, 10)
        XCTAssertEqual(config.ropeTheta, 10000)
        XCTAssertFalse(config.tiedEmbeddings)
        XCTAssertNil(try GGUFTokenizer.read(from: GGUFFile(path: path)))
    }

    func testWriterRejectsWeightsThatDisagreeWithTheirConfig() {
        var weights = ModelWeights.random(config: GGUFTestModels.config(gqa, tied: true), seed: 1)
        weights.layers[1][.k]! = Tensor(zeros: [4, 16])
        let path = directory.file("inconsistent.gguf")
        assertMopError(path, "tensor model.layers.1.self_attn.k_proj.weight has shape [4, 16], the config implies [8, 16]") {
            try GGUFWriter.write(weights: weights, tokenizer: nil, to: path, type: .f32)
        }
        weights.layers.removeLast()
        assertMopError(path, "the weights have 2 layers") { try GGUFWriter.write(weights: weights, tokenizer: nil, to: path, type: .f32) }
    }

    func testWriterRejectsTokenIdsOutsideTheVocabularyAndLeavesNoFile() {
        let weights = ModelWeights.random(config: GGUFTestModels.config(mha, tied: true), seed: 1)
        var badEos = GGUFTestModels.tokenizer(), badPad = badEos, badUnk = badEos
        badEos.eosTokenId = 40
        badPad.padTokenId = 41
        badUnk.unkTokenId = 42
        for (tokenizer, id) in [(badEos, 40), (badPad, 41), (badUnk, 42)] {
            let path = directory.file("bad-tokenizer-\(id).gguf")
            assertMopError(path, "token id \(id) is outside the vocabulary") {
                try GGUFWriter.write(weights: weights, tokenizer: tokenizer, to: path, type: .f32)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path))
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
        }
    }
}
