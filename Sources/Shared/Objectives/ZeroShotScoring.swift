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

    /// The example with every request cut to `maxLength` tokens as lm-eval does (`ZeroShotScoring.truncated`).
    public func truncated(maxLength: Int) -> TokenizedExample {
        TokenizedExample(requests: requests.map { ZeroShotScoring.truncated($0, maxLength: maxLength) },
                         normalizationLengths: normalizationLengths, gold: gold)
    }

    /// Tokens a forward pass over this example costs (the sharding weight): a context shared by choices counts once.
    public var tokenCost: Int {
        var seen = Set<[Int32]>()
        return requests.reduce(0) { $0 + $1.continuation.count + (seen.insert($1.context).inserted ? $1.context.count : 0) }
    }
}

/// Log-likelihood scoring of multiple-choice requests with lm-evaluation-harness's rules.
public enum ZeroShotScoring {
    /// Context and continuation ids by lm-eval's rule: the continuation's ids are those of
    /// tokens(context + continuation) after the first len(tokens(context)), so a token merging across the boundary
    /// belongs to the continuation. Whitespace ending the context moves to the continuation first (lm-eval's
    /// `_encode_pair`). An empty context becomes the EOS token, as lm-eval does, so the first token has a predictor.
    public static func encodePair(context: String, continuation: String, tokenizer: any Tokenizer,
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
    public static func tokenize(_ example: ZeroShotExample, tokenizer: any Tokenizer) throws -> TokenizedExample {
        TokenizedExample(
            requests: try example.requests.map {
                try encodePair(context: $0.context, continuation: $0.continuation, tokenizer: tokenizer, source: example.source)
            },
            normalizationLengths: example.requests.map(\.normalizationLength), gold: example.gold)
    }

    /// lm-eval's left truncation: the model reads (context + continuation)[-(maxLength + 1):][:-1], so tokens before
    /// the last maxLength + 1 are dropped from the context (and, for a continuation longer than that, from its start,
    /// one token staying as context). Cutting at tokenization keeps scoring, sharding and costs to what is computed.
    public static func truncated(_ request: TokenizedRequest, maxLength: Int) -> TokenizedRequest {
        let total = request.context.count + request.continuation.count
        guard maxLength >= 1, total > maxLength + 1 else { return request }
        let kept = Array((request.context + request.continuation).suffix(maxLength + 1))
        let contextCount = max(1, kept.count - request.continuation.count)
        return TokenizedRequest(context: Array(kept.prefix(contextCount)), continuation: Array(kept.dropFirst(contextCount)))
    }

    /// Sum of log p(continuation token | everything before it) of each request, in float64, from one batched forward
    /// pass. Requests with equal contexts share them: each distinct context is computed once, as a sequence of its
    /// own, and every continuation (without its last token) continues it, its first token predicted by the context's
    /// last row. A request longer than the model's positions is computed alone and loses tokens at the left, as
    /// lm-eval truncates.
    public static func logLikelihoods(_ model: Transformer, requests: [TokenizedRequest]) -> [Double] {
        let batch = ContextBatch(requests, positions: model.positions)
        return batch.logLikelihoods(hidden: model.hiddenStates(batch.sequences, prefixes: batch.prefixes),
                                    output: model.weights.head)
    }
}

/// The one forward pass that scores a group of requests (`ZeroShotScoring.logLikelihoods`): the sequences to run
/// (each distinct context once, continuations continuing it), which earlier sequence each continues, and the rows
/// whose next-token losses make up each request's log-likelihood. Built the same way on every pipeline stage, so
/// the stages agree on the rows of the activations they pass along.
public struct ContextBatch: Sendable {
    public let sequences: [[Int32]]
    public let prefixes: [Int?]
    let targets: [NextTokenLoss.Target]
    /// The request each target belongs to.
    let owners: [Int]
    let requestCount: Int

    public init(_ requests: [TokenizedRequest], positions limit: Int) {
        requestCount = requests.count
        var batch: [[Int32]] = [], prefixes: [Int?] = [], owners: [Int] = [], targets: [NextTokenLoss.Target] = []
        var rowOfSequence: [Int] = [], row = 0
        var contextSequence: [[Int32]: Int] = [:]
        func append(_ tokens: [Int32], prefix: Int?) -> Int {
            batch.append(tokens)
            prefixes.append(prefix)
            rowOfSequence.append(row)
            row += tokens.count
            return batch.count - 1
        }
        for (index, request) in requests.enumerated() {
            let whole = request.context + request.continuation
            guard whole.count - 1 <= limit else {
                let input = Array(whole.dropLast().suffix(limit))
                let start = append(input, prefix: nil)
                // The continuation's tokens are the last ones of `whole`; the row before each one predicts it.
                let first = input.count - request.continuation.count + 1
                for (offset, token) in request.continuation.enumerated() where first + offset - 1 >= 0 {
                    targets.append(NextTokenLoss.Target(row: rowOfSequence[start] + first + offset - 1, token: token))
                    owners.append(index)
                }
                continue
            }
            let context: Int
            if let shared = contextSequence[request.context] {
                context = shared
            } else {
                context = append(request.context, prefix: nil)
                contextSequence[request.context] = context
            }
            targets.append(NextTokenLoss.Target(row: rowOfSequence[context] + request.context.count - 1,
                                                token: request.continuation[0]))
            owners.append(index)
            let continuation = append(Array(request.continuation.dropLast()), prefix: context)
            for (offset, token) in request.continuation.dropFirst().enumerated() {
                targets.append(NextTokenLoss.Target(row: rowOfSequence[continuation] + offset, token: token))
                owners.append(index)
            }
        }
        (self.sequences, self.prefixes, self.targets, self.owners) = (batch, prefixes, targets, owners)
    }

    /// Sum of log p per request from the final hidden states [rows, D] of `sequences`.
    public func logLikelihoods(hidden: [Float], output: OutputHead) -> [Double] {
        var sums = [Double](repeating: 0, count: requestCount)
        var done = 0
        NextTokenLoss.forEachChunk(of: targets) { chunk in
            for loss in NextTokenLoss.rowLosses(hidden: hidden, targets: chunk, output: output) {
                sums[owners[done]] -= loss
                done += 1
            }
        }
        return sums
    }
}
