import Foundation
import XCTest
@testable import Shared

/// Each malformed file must fail with a MopError naming the file and the problem, never a crash.
final class GGUFMalformedTests: XCTestCase {
    private var directory: GGUFTemporaryDirectory!

    override func setUpWithError() throws { directory = try GGUFTemporaryDirectory() }
    override func tearDown() { directory.remove() }

    /// The bytes of a valid tiny model (2 GQA layers, untied, with a tokenizer) written by GGUFWriter.
    private func goodModelBytes() throws -> [UInt8] {
        let config = GGUFTestModels.config([LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 24), count: 2), tied: false)
        let path = directory.file("good.gguf")
        try GGUFWriter.write(weights: .random(config: config, seed: 2), tokenizer: GGUFTestModels.tokenizer(), to: path, type: .f32)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func save(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory.file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The good model with the bytes just after `marker` (a key or tensor name as stored, length prefix included)
    /// plus `skip` replaced by `replacement`.
    private func patched(after marker: String, skip: Int = 0, with replacement: [UInt8]) throws -> [UInt8] {
        var bytes = try goodModelBytes()
        let needle = [UInt8].le(UInt64(marker.utf8.count)) + Array(marker.utf8)
        let at = try XCTUnwrap(bytes.offset(of: needle), "\(marker) not found") + needle.count + skip
        bytes.replaceSubrange(at..<at + replacement.count, with: replacement)
        return bytes
    }

    func testTruncatedInsideTheHeader() throws {
        let path = try save(Array(try goodModelBytes().prefix(300)), "cut-header.gguf")
        assertMopError(path, "past the end of the file") { try GGUFFile(path: path) }
    }

    func testTruncatedInsideTheTensorData() throws {
        let bytes = try goodModelBytes()
        let path = try save(Array(bytes.prefix(bytes.count - 100)), "cut-data.gguf")
        assertMopError(path, "tensor output.weight data") { try GGUFFile(path: path) }
        assertMopError(path, "past the end of the file") { try GGUFModel.load(path: path) }
    }

    func testEmptyFile() throws {
        let path = try save([], "empty.gguf")
        assertMopError(path, "magic at bytes 0..<4 is past the end of the file (0 bytes)") { try GGUFFile(path: path) }
    }

    func testStringLengthPastTheEnd() throws {
        // A key claims 2^40 bytes.
        let raw = [UInt8].le(UInt64(1) << 40) + Array("general.name".utf8)
        let path = try save(GGUFHandBuilt.header(metadata: [], rawMetadata: raw, rawCount: 1), "long-string.gguf")
        assertMopError(path, "key of metadata entry 0 (at byte 24): length 1099511627776 exceeds 65535 bytes") { try GGUFFile(path: path) }
    }

    func testInvalidUTF8String() throws {
        let path = try save(try patched(after: "general.name", skip: 12, with: [0xFF, 0xFE]), "utf8.gguf")
        assertMopError(path, "metadata general.name is not valid UTF-8") { try GGUFFile(path: path) }
    }

    func testStringValueLengthPastTheEnd() throws {
        let bytes = try patched(after: "general.name", skip: 4, with: .le(UInt64(1_000_000)))
        let path = try save(bytes, "long-value.gguf")
        assertMopError(path, "length of metadata general.name 1000000") { try GGUFFile(path: path) }
    }

    func testArrayCountPastTheEnd() throws {
        // tokenizer.ggml.tokens: value type (4 bytes), element type (4), then the count.
        let bytes = try patched(after: "tokenizer.ggml.tokens", skip: 8, with: .le(UInt64(1) << 50))
        let path = try save(bytes, "long-array.gguf")
        assertMopError(path, "array length of metadata tokenizer.ggml.tokens 1125899906842624") { try GGUFFile(path: path) }
    }

    func testTensorDataOffsetPastTheEnd() throws {
        let tensors = [(name: "token_embd.weight", dims: [UInt64(4), 2], type: UInt32(0), offset: UInt64(1) << 20)]
        let path = try save(GGUFHandBuilt.header(metadata: [("general.architecture", .string("llama"))], tensors: tensors,
                                   tail: [UInt8](repeating: 0, count: 64)), "far-tensor.gguf")
        assertMopError(path, "tensor token_embd.weight data (32 bytes at data offset 1048576") { try GGUFFile(path: path) }
        assertMopError(path, "past the end of the file") { try GGUFFile(path: path) }
    }

    func testTensorOffsetsThatOverflow() throws {
        let beyondInt = [(name: "x", dims: [UInt64(4)], type: UInt32(0), offset: UInt64.max - 31)]
        let huge = try save(GGUFHandBuilt.header(metadata: [], tensors: beyondInt), "beyond-int.gguf")
        assertMopError(huge, "tensor x data offset 18446744073709551584 is past the end of the file") { try GGUFFile(path: huge) }
        // Fits an Int, but overflows once the data section start is added.
        let nearMax = [(name: "x", dims: [UInt64(4)], type: UInt32(0), offset: UInt64(Int.max - 31))]
        let overflow = try save(GGUFHandBuilt.header(metadata: [], tensors: nearMax), "overflow.gguf")
        assertMopError(overflow, "tensor x data (16 bytes at data offset 9223372036854775776") { try GGUFFile(path: overflow) }
    }

    func testMisalignedTensorOffset() throws {
        let tensors = [(name: "x", dims: [UInt64(4)], type: UInt32(0), offset: UInt64(4))]
        let path = try save(GGUFHandBuilt.header(metadata: [], tensors: tensors, tail: [UInt8](repeating: 0, count: 64)), "misaligned.gguf")
        assertMopError(path, "tensor x data offset 4 is not a multiple of the alignment 32") { try GGUFFile(path: path) }
    }

    func testQuantizedRowThatIsNotWholeBlocks() throws {
        let tensors = [(name: "x", dims: [UInt64(16), 2], type: UInt32(8), offset: UInt64(0))]
        let path = try save(GGUFHandBuilt.header(metadata: [], tensors: tensors, tail: [UInt8](repeating: 0, count: 128)), "blocks.gguf")
        assertMopError(path, "tensor x row length 16 is not a multiple of the Q8_0 block size 32") { try GGUFFile(path: path) }
    }

    func testShapeThatDisagreesWithTheConfig() throws {
        // Hidden size 16 -> 8 in the metadata; the stored embedding is still [40, 16].
        let bytes = try patched(after: "llama.embedding_length", skip: 4, with: .le(UInt32(8)))
        let path = try save(bytes, "hidden.gguf")
        XCTAssertNoThrow(try GGUFFile(path: path))
        assertMopError(path, "tensor model.embed_tokens.weight has shape [40, 16], the config implies [40, 8]") {
            try GGUFModel.load(path: path)
        }
    }

    func testUnknownTensorTypeId() throws {
        // After the name: dimension count (4), two dimensions (16), then the type id.
        let bytes = try patched(after: "blk.1.attn_q.weight", skip: 20, with: .le(UInt32(99)))
        let path = try save(bytes, "type.gguf")
        assertMopError(path, "tensor blk.1.attn_q.weight has unknown tensor type id 99") { try GGUFFile(path: path) }
    }

    func testMissingTensor() throws {
        var bytes = try goodModelBytes()
        let name = Array("blk.1.ffn_up.weight".utf8)
        let at = try XCTUnwrap(bytes.offset(of: name))
        bytes.replaceSubrange(at..<at + name.count, with: Array("blk.1.ffn_uq.weight".utf8))
        let path = try save(bytes, "missing.gguf")
        assertMopError(path, "missing tensor blk.1.ffn_up.weight") { try GGUFModel.load(path: path) }
    }

    func testBadMagic() throws {
        var bytes = try goodModelBytes()
        bytes[0] = UInt8(ascii: "X")
        let path = try save(bytes, "magic.gguf")
        assertMopError(path, "not a GGUF file (bad magic)") { try GGUFFile(path: path) }
    }

    func testUnsupportedVersion() throws {
        var bytes = try goodModelBytes()
        bytes.replaceSubrange(4..<8, with: [UInt8].le(UInt32(2)))
        let path = try save(bytes, "version.gguf")
        assertMopError(path, "unsupported GGUF version 2") { try GGUFFile(path: path) }
    }

    func testUnsupportedArchitectureTokenizerAndPreTokenizer() throws {
        let arch = try save(try patched(after: "general.architecture", skip: 12, with: Array("gemma".utf8)), "arch.gguf")
        assertMopError(arch, "unsupported architecture gemma (supported: llama, deci, qwen2") { try GGUFModel.load(path: arch) }
        let model = try save(try patched(after: "tokenizer.ggml.model", skip: 12, with: Array("bert".utf8)), "tokmodel.gguf")
        assertMopError(model, "unsupported tokenizer model \"bert\"") { try GGUFModel.load(path: model) }
        let pre = try save(try patched(after: "tokenizer.ggml.pre", skip: 12, with: Array("qwen22".utf8)), "pre.gguf")
        assertMopError(pre, "unsupported pre-tokenizer \"qwen22\"") { try GGUFModel.load(path: pre) }
    }

    func testPadAndUnkIdsOutsideTheVocabulary() throws {
        // The key, then its value type (4 bytes), then the uint32 id.
        for key in ["tokenizer.ggml.padding_token_id", "tokenizer.ggml.unknown_token_id"] {
            let path = try save(try patched(after: key, skip: 4, with: .le(UInt32(40))), "\(key).gguf")
            assertMopError(path, "\(key) 40 is not a token id below the vocabulary size 40") { try GGUFModel.load(path: path) }
        }
    }

    func testRopeScalingIsRejectedNotIgnored() throws {
        let meta: [(String, GGUFValue)] = [("general.architecture", .string("llama")), ("llama.rope.scaling.type", .string("yarn")),
                                           ("llama.block_count", .uint32(1)), ("llama.embedding_length", .uint32(8)),
                                           ("llama.feed_forward_length", .uint32(8)), ("llama.attention.head_count", .uint32(2)),
                                           ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)), ("llama.context_length", .uint32(64))]
        let tensors = [(name: "token_embd.weight", dims: [UInt64(8), 4], type: UInt32(0), offset: UInt64(0))]
        let body = GGUFHandBuilt.header(metadata: meta, tensors: tensors)
        let path = try save(body + [UInt8](repeating: 0, count: 32 - body.count % 32 + 128), "rope.gguf")
        assertMopError(path, "llama.rope.scaling.type \"yarn\" is not supported") { try GGUFModel.config(of: GGUFFile(path: path)) }
    }

    func testPerLayerArrayOfTheWrongLength() throws {
        let meta: [(String, GGUFValue)] = [("general.architecture", .string("deci")), ("deci.block_count", .uint32(2)),
                                           ("deci.embedding_length", .uint32(8)), ("deci.attention.head_count", .array(.int32, [.int32(2)]))]
        let tensors = [(name: "a", dims: [UInt64(1)], type: UInt32(0), offset: UInt64(0)),
                       (name: "b", dims: [UInt64(1)], type: UInt32(0), offset: UInt64(32))]
        let path = try save(GGUFHandBuilt.file(metadata: meta, tensors: tensors, dataBytes: 36), "array.gguf")
        assertMopError(path, "deci.attention.head_count must be an integer or an array of 2 integers") {
            try GGUFModel.config(of: GGUFFile(path: path))
        }
    }
}
