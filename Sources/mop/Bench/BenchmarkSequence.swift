import Shared

/// The token sequence the speed benchmarks run on: the first `length` tokens of a text, or ids 0, 1, 2, ... without
/// one (the products cost the same; the text makes softmax and loss values realistic).
enum BenchmarkSequence {
    /// Refuses a length past the model's positions (it has no RoPE angles it was trained on there), from the
    /// header alone, before the weights are loaded.
    static func checkLength(_ length: Int, model: String) throws {
        let positions = try ModelLoader.describe(path: model).config.maxPositions
        guard length <= positions else { throw MopError(file: model, "takes \(positions) positions, fewer than --seq-len \(length)") }
    }

    static func tokens(_ loaded: LoadedModel, model: String, text: String?, length: Int) throws -> [Int32] {
        guard let text, let spec = loaded.tokenizer else {
            return (0..<length).map { Int32($0 % loaded.weights.config.vocabSize) }
        }
        let encoded = try spec.tokenizer(file: model).encode(try TextFile.read(text))
        guard encoded.count >= length else { throw MopError(file: text, "holds \(encoded.count) tokens, fewer than --seq-len \(length)") }
        return Array(encoded.prefix(length))
    }
}
