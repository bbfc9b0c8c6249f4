import Foundation
@testable import Shared

/// A tiny random model whose tokenizer is the 256 bytes plus EOS, and data it can learn: fast end-to-end runs of the
/// training and evaluation commands.
enum TinyByteModel {
    /// `layers` GQA blocks over 256 byte symbols plus an EOS token (no merges), saved as GGUF with its tokenizer.
    static func write(in directory: String, layers: Int = 2) throws -> String {
        let vocabulary = (0..<256).map { ByteLevel.encode([UInt8($0)]) } + ["<eos>"]
        let tokenizer = TokenizerSpec(vocabulary: vocabulary, merges: [], preTokenizer: .gpt2, specialTokenIds: [256],
                                      bosTokenId: nil, eosTokenId: 256, addBos: false)
        let config = ModelConfig(vocabSize: 257, hidden: 32, headDim: 8,
                                 layers: [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 48), count: layers),
                                 tiedEmbeddings: true, maxPositions: 256)
        let path = directory + "/tiny.gguf"
        try GGUFWriter.write(weights: .random(config: config, seed: 3), tokenizer: tokenizer, to: path, type: .f32)
        return path
    }

    /// Short instructions with one fixed answer each: small enough to overfit in a few dozen steps.
    static func alpaca(rows: Int, in directory: String) throws -> String {
        let path = directory + "/alpaca.jsonl"
        let lines = (0..<rows).map { i in
            "{\"instruction\": \"n\(i % 4)\", \"input\": \"\(i % 2 == 0 ? "" : "x")\", \"output\": \"\(["aa", "bb", "cc", "dd"][i % 4])\"}"
        }
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
