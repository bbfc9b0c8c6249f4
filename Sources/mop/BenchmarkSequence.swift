import Shared

/// The token sequence the speed benchmarks run on: the first `length` tokens of a text, or ids 0, 1, 2, ... without
/// one (the products cost the same; the text makes softmax and loss values realistic).
enum BenchmarkSequence {
    static func tokens(_ loaded: LoadedModel, model: String, text: String?, length: Int) throws -> [Int32] {
        // Past its positions a model has no RoPE angles it was trained on; refuse rather than measure nonsense.
        guard length <= loaded.weights.config.maxPositions else {
            throw MopError(file: model, "takes \(loaded.weights.config.maxPositions) positions, fewer than --seq-len \(length)")
        }
        guard let text, let spec = loaded.tokenizer else {
            return (0..<length).map { Int32($0 % loaded.weights.config.vocabSize) }
        }
        let encoded = try BPETokenizer(spec, file: model).encode(try TextFile.read(text))
        guard encoded.count >= length else { throw MopError(file: text, "holds \(encoded.count) tokens, fewer than --seq-len \(length)") }
        return Array(encoded.prefix(length))
    }
}
