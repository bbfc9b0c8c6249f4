import Foundation

/// A request as token ids: the continuation's ids are scored after the context's.
public struct TokenizedRequest: Equatable, Sendable {
    public let context: [Int32]
    public let continuation: [Int32]

    public init(context: [Int32], continuation: [Int32]) {
        self.context = context
        self.continuation = continuation
    }
}

/// An example ready to score: one tokenized request per choice.
public struct TokenizedExample: Equatable, Sendable {
    public let requests: [TokenizedRequest]
    public let normalizationLengths: [Int]
    public let gold: Int

    public init(requests: [TokenizedRequest], normalizationLengths: [Int], gold: Int) {
        self.requests = requests
        self.normalizationLengths = normalizationLengths
        self.gold = gold
    }

    /// Tokens a forward pass over this example costs (the sharding weight).
    public var tokenCost: Int { requests.reduce(0) { $0 + $1.context.count + $1.continuation.count } }
}

/// Log-likelihood scoring of multiple-choice requests with lm-evaluation-harness's rules.
public enum ZeroShotScoring {
    /// Context and continuation ids by lm-eval's rule: the continuation's ids are those of
    /// tokens(context + continuation) after the first len(tokens(context)), so a token merging across the boundary
    /// belongs to the continuation. Whitespace ending the context moves to the continuation first (lm-eval's
    /// `_encode_pair`). An empty context becomes the EOS token, as lm-eval does, so the first token has a predictor.
    public static func encodePair(context: String, continuation: String, tokenizer: BPETokenizer,
                                  source: String) throws -> TokenizedRequest {
        var context = context, continuation = continuation
        let trailing = context.reversed().prefix { $0.isWhitespace }.count
        if trailing > 0 {
            continuation = String(context.suffix(trailing)) + continuation
            context.removeLast(trailing)
        }
        var contextIds = tokenizer.encode(context)
        let whole = tokenizer.encode(context + continuation)
        let continuationIds = Array(whole.dropFirst(min(contextIds.count, whole.count)))
        guard !continuationIds.isEmpty else { throw MopError(file: source, "the continuation '\(continuation)' has no tokens") }
        if contextIds.isEmpty {
            guard let eos = tokenizer.eosTokenId ?? tokenizer.bosTokenId else {
                throw MopError(file: source, "the context is empty and the tokenizer has no EOS or BOS token to stand in")
            }
            contextIds = [eos]
        }
        return TokenizedRequest(context: contextIds, continuation: continuationIds)
    }

    /// Every request of `example` tokenized.
    public static func tokenize(_ example: ZeroShotExample, tokenizer: BPETokenizer) throws -> TokenizedExample {
        TokenizedExample(
            requests: try example.requests.map {
                try encodePair(context: $0.context, continuation: $0.continuation, tokenizer: tokenizer, source: example.source)
            },
            normalizationLengths: example.requests.map(\.normalizationLength), gold: example.gold)
    }

    /// Sum of log p(continuation token | everything before it) of each request, in float64, from one batched forward
    /// pass over the stacked sequences (context + continuation without its last token). Sequences longer than the
    /// model's positions lose tokens at the left, as lm-eval truncates.
    public static func logLikelihoods(_ model: Transformer, requests: [TokenizedRequest]) -> [Double] {
        let limit = model.rope.positions
        var batch: [[Int32]] = [], owners: [Int] = [], targets: [NextTokenLoss.Target] = []
        var row = 0
        for (index, request) in requests.enumerated() {
            let whole = request.context + request.continuation
            let input = Array(whole.dropLast().suffix(limit))
            // The continuation's tokens are the last ones of `whole`; the row before each one predicts it.
            let first = input.count - request.continuation.count + 1
            for (offset, token) in request.continuation.enumerated() where first + offset - 1 >= 0 {
                targets.append(NextTokenLoss.Target(row: row + first + offset - 1, token: token))
                owners.append(index)
            }
            batch.append(input)
            row += input.count
        }
        let hidden = model.hiddenStates(batch)
        var sums = [Double](repeating: 0, count: requests.count)
        var done = 0
        NextTokenLoss.forEachChunk(of: targets) { chunk in
            for loss in NextTokenLoss.rowLosses(hidden: hidden, targets: chunk, output: model.weights.outputMatrix) {
                sums[owners[done]] -= loss
                done += 1
            }
        }
        return sums
    }
}
