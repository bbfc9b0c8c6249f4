import Foundation

/// Calibration and text datasets (docs/design.md#calibration): Alpaca-style instruction prompts, text documents, and
/// the choice of rows and token windows. Every bad input is a `MopError` naming the file and, for JSONL, the 1-based
/// line.
public enum CalibrationData {
    /// The calibration prompt of one Alpaca row (the AMP/MoP reference format); the Input line is left out when
    /// `input` is empty.
    public static func alpacaPrompt(instruction: String, input: String) -> String {
        input.isEmpty ? "Instruction: \(instruction)\nResponse:" : "Instruction: \(instruction)\nInput: \(input)\nResponse:"
    }

    /// The prompts of an Alpaca JSONL file (`instruction`, optional `input`; `output` is not needed for
    /// calibration), in file order.
    public static func alpacaPrompts(path: String) throws -> [String] {
        try jsonlRows(path: path).map { row in
            alpacaPrompt(instruction: try row.string("instruction"), input: try row.optionalString("input") ?? "")
        }
    }

    /// Documents of a text dataset: the `text` field of every row of a `.jsonl` file, or the whole of any other
    /// file as one document.
    public static func textDocuments(path: String) throws -> [String] {
        if path.hasSuffix(".jsonl") { return try jsonlRows(path: path).map { try $0.string("text") } }
        let text = try TextFile.lines(path: path).map(\.text).joined(separator: "\n")
        guard !text.isEmpty else { throw MopError(file: path, "the file is empty") }
        return [text]
    }

    /// `count` rows: the first ones when `seed` is nil (the default of docs/design.md#calibration), else a
    /// deterministic sample without replacement drawn with `SeededRandom(seed:)`, kept in file order. `file` names the
    /// dataset in errors.
    public static func select<T>(_ rows: [T], count: Int, seed: UInt64?, file: String) throws -> [T] {
        guard count >= 0 else { throw MopError(file: file, "cannot select \(count) rows") }
        guard count <= rows.count else {
            throw MopError(file: file, "\(count) rows requested but the file has only \(rows.count)")
        }
        guard let seed else { return Array(rows.prefix(count)) }
        // Partial Fisher-Yates: the first `count` slots end up a uniform sample of distinct indices.
        var rng = SeededRandom(seed: seed)
        var indices = Array(rows.indices)
        for i in 0..<count {
            let remaining = UInt64(indices.count - i)
            // Lemire's multiply-high: uniform in 0..<remaining up to a 2^-64 bias, and stable across Swift versions.
            let offset = Int(rng.next().multipliedFullWidth(by: remaining).high)
            indices.swapAt(i, i + offset)
        }
        return indices.prefix(count).sorted().map { rows[$0] }
    }

    /// Up to `count` consecutive, non-overlapping windows of `seqLen` tokens from the start of `tokens`; fewer
    /// when the stream runs out (a trailing partial window is dropped). Empty when `seqLen` or `count` is not positive.
    public static func sequences(fromTokens tokens: [Int32], seqLen: Int, count: Int) -> [[Int32]] {
        guard seqLen > 0, count > 0 else { return [] }
        let windows = min(count, tokens.count / seqLen)
        return (0..<windows).map { Array(tokens[$0 * seqLen..<($0 + 1) * seqLen]) }
    }

    // MARK: Reading

    /// One JSONL row: its fields and its 1-based line, for messages.
    struct Row {
        let file: String
        let line: Int
        let object: [String: Any]

        func optionalString(_ key: String) throws -> String? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw MopError(file: file, "line \(line): field \"\(key)\" is not a string") }
            return text
        }

        func string(_ key: String) throws -> String {
            guard let text = try optionalString(key) else { throw MopError(file: file, "line \(line): missing field \"\(key)\"") }
            return text
        }
    }

    /// The JSON objects of a JSONL file, blank lines skipped; at least one row.
    static func jsonlRows(path: String) throws -> [Row] {
        var rows: [Row] = []
        for (line, text) in try TextFile.lines(path: path) where !text.allSatisfy(\.isWhitespace) {
            let json: Any
            do {
                json = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
            } catch {
                throw MopError(file: path, "line \(line): not valid JSON")
            }
            guard let object = json as? [String: Any] else { throw MopError(file: path, "line \(line): not a JSON object") }
            rows.append(Row(file: path, line: line, object: object))
        }
        guard !rows.isEmpty else { throw MopError(file: path, "the file holds no rows") }
        return rows
    }
}
