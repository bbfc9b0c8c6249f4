import Foundation
@testable import Shared

/// Inputs of `mop prune` runs: tiny random GQA models over a 256-symbol byte vocabulary (no merges), saved as GGUF
/// with their tokenizer, and Alpaca files of synthetic prompts.
enum PruneFixtures {
    /// `layers` blocks of 4 query heads over 2 KV heads (head dimension hidden / 4).
    static func tinyModel(in directory: String, name: String = "tiny.gguf", layers: Int = 6, hidden: Int = 32,
                          intermediate: Int = 64, seed: UInt64 = 3) throws -> String {
        let vocabulary = (0..<256).map { ByteLevel.encode([UInt8($0)]) }
        let tokenizer = TokenizerSpec(vocabulary: vocabulary, merges: [], preTokenizer: .gpt2, specialTokenIds: [],
                                      bosTokenId: nil, eosTokenId: nil, addBos: false)
        let config = ModelConfig(vocabSize: 256, hidden: hidden, headDim: hidden / 4,
                                 layers: [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: intermediate),
                                                      count: layers),
                                 tiedEmbeddings: true, maxPositions: 256)
        let path = (directory as NSString).appendingPathComponent(name)
        try GGUFWriter.write(weights: .random(config: config, seed: seed), tokenizer: tokenizer, to: path, type: .f32)
        return path
    }

    /// `rows` prompts; every instruction is padded with `padding` repetitions of a sentence (longer sequences make
    /// each iteration cost more).
    static func alpaca(in directory: String, rows: Int, padding: Int = 0) throws -> String {
        let path = (directory as NSString).appendingPathComponent("alpaca.jsonl")
        let extra = String(repeating: " Think it over carefully.", count: padding)
        let lines = (0..<rows).map { i in
            "{\"instruction\": \"Say something about the number \(i).\(extra)\", \"input\": \"\(i % 3 == 0 ? "" : "context \(i)")\", \"output\": \"ok\"}"
        }
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
