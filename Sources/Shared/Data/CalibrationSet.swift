import Foundation

/// The calibration sequences of a pruning run, from any of the accepted files: Alpaca JSONL (one sequence per
/// prompt in the AMP template, docs/design.md#calibration), `{"text": ...}` JSONL or plain text (the token stream cut
/// into windows).
public enum CalibrationSet {
    /// `count` sequences of at most `seqLen` tokens: the first ones, or a seeded sample when `seed` is given.
    public static func sequences(path: String, tokenizer: any Tokenizer, count: Int, seqLen: Int,
                                 seed: UInt64?) throws -> [[Int32]] {
        if try isAlpaca(path) {
            let prompts = try CalibrationData.select(try CalibrationData.alpacaPrompts(path: path), count: count,
                                                     seed: seed, file: path)
            return prompts.map { Array(tokenizer.encode($0).prefix(seqLen)) }
        }
        let text = try CalibrationData.textDocuments(path: path).joined(separator: "\n\n")
        let windows = CalibrationData.sequences(fromTokens: tokenizer.encode(text), seqLen: seqLen, count: Int.max)
        guard !windows.isEmpty else { throw MopError(file: path, "the text holds too few tokens for one sequence") }
        return try CalibrationData.select(windows, count: count, seed: seed, file: path)
    }

    /// A .jsonl file whose first row has an "instruction" field.
    static func isAlpaca(_ path: String) throws -> Bool {
        guard path.hasSuffix(".jsonl") else { return false }
        return try CalibrationData.jsonlRows(path: path).first?.object["instruction"] != nil
    }
}
