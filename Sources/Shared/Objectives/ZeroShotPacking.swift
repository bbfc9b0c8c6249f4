/// Tokenized examples as one flat array of Int32, so rank 0 can tokenize once and broadcast: every rank then scores
/// exactly the same ids. Layout: count, then per example: task, gold, choices, and per choice: normalization length,
/// context length, continuation length, context ids, continuation ids.
public enum ZeroShotPacking {
    public static func pack(_ examples: [(task: Int, example: TokenizedExample)]) -> [Int32] {
        var flat: [Int32] = [Int32(examples.count)]
        for (task, example) in examples {
            flat += [Int32(task), Int32(example.gold), Int32(example.requests.count)]
            for (request, length) in zip(example.requests, example.normalizationLengths) {
                flat += [Int32(length), Int32(request.context.count), Int32(request.continuation.count)]
                flat += request.context + request.continuation
            }
        }
        return flat
    }

    /// The examples of `pack`; a truncated or inconsistent array is an error, never a trap.
    public static func unpack(_ flat: [Int32]) throws -> [(task: Int, example: TokenizedExample)] {
        var cursor = 0
        func next() throws -> Int {
            guard cursor < flat.count, flat[cursor] >= 0 else { throw MopError("broadcast task data is corrupt at \(cursor)") }
            defer { cursor += 1 }
            return Int(flat[cursor])
        }
        func ids(_ count: Int) throws -> [Int32] {
            guard count <= flat.count - cursor else { throw MopError("broadcast task data is truncated at \(cursor)") }
            defer { cursor += count }
            return Array(flat[cursor..<(cursor + count)])
        }
        var examples: [(task: Int, example: TokenizedExample)] = []
        for _ in 0..<(try next()) {
            let task = try next(), gold = try next(), choices = try next()
            var requests: [TokenizedRequest] = [], lengths: [Int] = []
            for _ in 0..<choices {
                lengths.append(try next())
                let contextCount = try next(), continuationCount = try next()
                requests.append(TokenizedRequest(context: try ids(contextCount), continuation: try ids(continuationCount)))
            }
            guard gold < choices else { throw MopError("broadcast task data has gold \(gold) of \(choices) choices") }
            examples.append((task, TokenizedExample(requests: requests, normalizationLengths: lengths, gold: gold)))
        }
        guard cursor == flat.count else { throw MopError("broadcast task data has \(flat.count - cursor) extra values") }
        return examples
    }
}
