import Foundation
import XCTest
@testable import Shared

/// A fresh directory under NSTemporaryDirectory(), removed by `remove()`.
struct GGUFTemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "mop-gguf-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

enum GGUFTestModels {
    /// A tiny config: vocabulary 40, hidden 16, head dimension 4, one `LayerShape` per entry.
    static func config(_ layers: [LayerShape], tied: Bool) -> ModelConfig {
        ModelConfig(vocabSize: 40, hidden: 16, headDim: 4, layers: layers, rmsNormEps: 1e-6, ropeTheta: 50000,
                    tiedEmbeddings: tied, maxPositions: 256)
    }

    /// A byte-level BPE vocabulary of 40 tokens with three control tokens (0, 1, 2); unk 0 and pad 2, as SmolLM2.
    static func tokenizer(pre: PreTokenizerKind = .smollm, template: String? = "{% for m in messages %}{{ m }}{% endfor %}") -> TokenizerSpec {
        let vocabulary = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + (0..<37).map { "tok\($0)Ġ" }
        return TokenizerSpec(vocabulary: vocabulary, merges: ["t o", "to k", "Ġ a"], preTokenizer: pre,
                             specialTokenIds: [0, 1, 2], bosTokenId: 1, eosTokenId: 2, addBos: true, chatTemplate: template,
                             padTokenId: 2, unkTokenId: 0)
    }
}

/// GGUF headers built field by field, for files the writer would never produce.
enum GGUFHandBuilt {
    /// A hand-built header: magic, version 3, the given metadata and tensor entries, then `tail`.
    static func header(metadata: [(String, GGUFValue)], tensors: [(name: String, dims: [UInt64], type: UInt32, offset: UInt64)] = [],
                       rawMetadata: [UInt8] = [], rawCount: Int = 0, tail: [UInt8] = []) -> [UInt8] {
        var writer = GGUFByteWriter()
        writer.u32(GGUFFile.magic)
        writer.u32(3)
        writer.u64(UInt64(tensors.count))
        writer.u64(UInt64(metadata.count + rawCount))
        for (key, value) in metadata {
            writer.string(key)
            writer.u32(value.type.rawValue)
            writer.value(value)
        }
        writer.bytes += rawMetadata
        for tensor in tensors {
            writer.string(tensor.name)
            writer.u32(UInt32(tensor.dims.count))
            tensor.dims.forEach { writer.u64($0) }
            writer.u32(tensor.type)
            writer.u64(tensor.offset)
        }
        return writer.bytes + tail
    }

    /// A whole file: the header, zero padding to the default alignment, then `dataBytes` zero bytes of tensor data
    /// (the data section must end at the end of the file).
    static func file(metadata: [(String, GGUFValue)], tensors: [(name: String, dims: [UInt64], type: UInt32, offset: UInt64)],
                     dataBytes: Int) -> [UInt8] {
        let bytes = header(metadata: metadata, tensors: tensors)
        let padding = (GGUFFile.defaultAlignment - bytes.count % GGUFFile.defaultAlignment) % GGUFFile.defaultAlignment
        return bytes + [UInt8](repeating: 0, count: padding + dataBytes)
    }
}

/// Asserts that `body` throws a MopError whose description names `path` and contains `phrase`.
func assertMopError<T>(_ path: String, _ phrase: String, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an error containing \"\(phrase)\"", file: file, line: line)
    } catch let error as MopError {
        XCTAssertTrue(error.description.contains(path), "\(error) does not name \(path)", file: file, line: line)
        XCTAssertTrue(error.description.contains(phrase), "\(error) does not say \"\(phrase)\"", file: file, line: line)
    } catch {
        XCTFail("expected a MopError, got \(error)", file: file, line: line)
    }
}

/// Raw little-endian bytes of a GGUF field, for building and patching files in tests.
extension Array where Element == UInt8 {
    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { Swift.withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    static func half(_ bits: UInt16) -> [UInt8] { le(bits) }

    /// The offset of the first occurrence of `needle`.
    func offset(of needle: [UInt8]) -> Int? {
        guard needle.count <= count else { return nil }
        return (0...(count - needle.count)).first { self[$0..<$0 + needle.count].elementsEqual(needle) }
    }
}
