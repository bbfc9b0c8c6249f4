/// One supervised training sequence: the prompt's and the response's tokens, and which of them the loss is taken on.
public struct InstructionExample: Equatable, Sendable {
    /// prompt tokens, then response tokens (output and EOS), cut at the maximum length.
    public var tokens: [Int32]
    /// `lossMask[t]` is true where token t is part of the response (LoRATrainer's mask: predicted from 0..<t).
    public var lossMask: [Bool]

    public init(tokens: [Int32], lossMask: [Bool]) {
        self.tokens = tokens
        self.lossMask = lossMask
    }

    /// Tokens the loss is taken on (position 0 is never a target).
    public var targetCount: Int { lossMask.dropFirst().reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Instruction-tuning data for recovery fine-tuning (docs/design.md#training-data): Alpaca rows in the Alpaca training
/// template, the loss on the response only, a seeded held-out split and a seeded order per epoch.
public enum InstructionData {
    /// The Alpaca training prompt (Stanford Alpaca's `PROMPT_DICT`); the Input section is left out when `input` is empty.
    public static func alpacaPrompt(instruction: String, input: String) -> String {
        if input.isEmpty {
            return "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n\(instruction)\n\n### Response:\n"
        }
        return "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n\(instruction)\n\n### Input:\n\(input)\n\n### Response:\n"
    }

    /// tokens(prompt) + tokens(output) + [EOS], cut to `maxLength`, the mask on the output and EOS. A BOS that the
    /// tokenizer adds is kept once, at the start of the prompt.
    public static func example(instruction: String, input: String, output: String, tokenizer: any Tokenizer,
                               eos: Int32, maxLength: Int) -> InstructionExample {
        let prompt = tokenizer.encode(alpacaPrompt(instruction: instruction, input: input))
        let response = tokenizer.encode(output, addingSpecialTokens: false) + [eos]
        let tokens = Array((prompt + response).prefix(maxLength))
        let mask = tokens.indices.map { $0 >= prompt.count }
        return InstructionExample(tokens: tokens, lossMask: mask)
    }

    /// The examples of an Alpaca JSONL file (`instruction`, `output`, optional `input`), in file order. Rows whose
    /// response is cut away entirely by `maxLength` are left out and counted in `truncatedAway`; a tokenizer without
    /// EOS, `maxLength` below 2 or no example left is an error naming the file. `limit` stops after that many examples.
    public static func examples(path: String, tokenizer: any Tokenizer, maxLength: Int, limit: Int? = nil) throws
        -> (examples: [InstructionExample], truncatedAway: Int) {
        guard let eos = tokenizer.eosTokenId else { throw MopError(file: path, "the model's tokenizer has no EOS token to end responses with") }
        guard maxLength >= 2 else { throw MopError(file: path, "maximum length \(maxLength) leaves no room for a response") }
        var examples: [InstructionExample] = [], dropped = 0
        for row in try CalibrationData.jsonlRows(path: path) {
            let example = Self.example(instruction: try row.string("instruction"), input: try row.optionalString("input") ?? "",
                                       output: try row.string("output"), tokenizer: tokenizer, eos: eos, maxLength: maxLength)
            if example.targetCount == 0 { dropped += 1 } else { examples.append(example) }
            if let limit, examples.count >= limit { break }
        }
        guard !examples.isEmpty else {
            throw MopError(file: path, "no row has a response within \(maxLength) tokens")
        }
        return (examples, dropped)
    }

    /// Splits `items` into training and held-out parts: round(fraction x count) items (at least one when the
    /// fraction is positive) drawn with `seed`, each part kept in the original order. At least one item stays for
    /// training. `file` names the dataset in errors.
    public static func split<T>(_ items: [T], heldOutFraction fraction: Double, seed: UInt64, file: String) throws
        -> (train: [T], heldOut: [T]) {
        guard fraction >= 0, fraction < 1 else { throw MopError(file: file, "held-out fraction \(fraction) is outside [0, 1)") }
        guard fraction > 0 else { return (items, []) }
        let count = max(1, Int((fraction * Double(items.count)).rounded()))
        guard count < items.count else {
            throw MopError(file: file, "\(items.count) examples are too few to hold out \(count) and still train")
        }
        let chosen = Set(permutation(count: items.count, seed: seed).prefix(count))
        var train: [T] = [], heldOut: [T] = []
        for (index, item) in items.enumerated() {
            if chosen.contains(index) { heldOut.append(item) } else { train.append(item) }
        }
        return (train, heldOut)
    }

    /// The order in which epoch `epoch` visits `count` training examples: a Fisher-Yates shuffle seeded by (seed,
    /// epoch), the same on every rank.
    public static func epochOrder(count: Int, epoch: Int, seed: UInt64) -> [Int] {
        permutation(count: count, seed: seed ^ (UInt64(truncatingIfNeeded: epoch + 1) &* 0xD1B5_4A32_D192_ED03))
    }

    /// The examples of global step `step` with `batchSize` per step: positions step*B ..< (step+1)*B of the stream
    /// formed by the epoch orders one after another (a step may span two epochs).
    public static func batch<T>(_ items: [T], step: Int, batchSize: Int, seed: UInt64) -> [T] {
        guard !items.isEmpty else { return [] }
        var result: [T] = []
        var position = step * batchSize
        var epoch = -1, order: [Int] = []
        while result.count < batchSize {
            let e = position / items.count
            if e != epoch { epoch = e; order = epochOrder(count: items.count, epoch: e, seed: seed) }
            result.append(items[order[position % items.count]])
            position += 1
        }
        return result
    }

    /// A uniform permutation of 0..<count from `seed` (Fisher-Yates with Lemire's multiply-high, as
    /// `CalibrationData.select`: stable across platforms and Swift versions).
    static func permutation(count: Int, seed: UInt64) -> [Int] {
        var rng = SeededRandom(seed: seed)
        var indices = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(rng.next().multipliedFullWidth(by: UInt64(i + 1)).high)
            indices.swapAt(i, j)
        }
        return indices
    }
}
