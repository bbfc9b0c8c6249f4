import XCTest
@testable import Shared

final class ZeroShotScoringTests: XCTestCase {
    func testAccuracyAndNormalizedAccuracyFromHandMadeLogLikelihoods() {
        // Raw argmax is choice 0 (-10 > -12); per character choice 1 wins (-12/20 = -0.6 > -10/5 = -2).
        XCTAssertEqual(ZeroShotMetrics.outcome(logLikelihoods: [-10, -12], lengths: [5, 20], gold: 1),
                       .init(correct: false, correctNormalized: true))
        XCTAssertEqual(ZeroShotMetrics.outcome(logLikelihoods: [-10, -12], lengths: [5, 20], gold: 0),
                       .init(correct: true, correctNormalized: false))
        XCTAssertEqual(ZeroShotMetrics.outcome(logLikelihoods: [-3, -9, -1.5], lengths: [3, 3, 3], gold: 2),
                       .init(correct: true, correctNormalized: true))
        // Ties go to the first index, as np.argmax.
        XCTAssertEqual(ZeroShotMetrics.outcome(logLikelihoods: [-4, -4], lengths: [2, 2], gold: 1),
                       .init(correct: false, correctNormalized: false))
        var counts = ZeroShotCounts()
        for (correct, normalized) in [(true, true), (true, false), (true, true), (false, true)] {
            counts.add(.init(correct: correct, correctNormalized: normalized))
        }
        let result = ZeroShotMetrics.result(counts)
        XCTAssertEqual(result.n, 4)
        XCTAssertEqual(result.acc, 0.75)
        XCTAssertEqual(result.accNorm, 0.75)
        // lm-eval mean_stderr: sample std of (1,1,1,0) is sqrt(0.75 / 3) = 0.5, over sqrt(4): 0.25 = sqrt(0.75 * 0.25 / 3).
        XCTAssertEqual(result.accStderr, 0.25, accuracy: 1e-15)
        XCTAssertEqual(ZeroShotCounts(packed: counts.packed[...]), counts)
        XCTAssertEqual(ZeroShotMetrics.result(ZeroShotCounts(correct: 1, correctNormalized: 0, examples: 1)).accStderr, 0)
    }

    /// lm-eval's rule on a real merge: "Answer: hel" + "lo world" tokenizes as [Answer, :, Ġhello, Ġworld], so the
    /// continuation is whole[3...] = [Ġworld], not tokens("lo world").
    func testTaskAverageWeighsEveryTaskTheSame() {
        let results = [ZeroShotResult(acc: 0.2, accNorm: 0.5, accStderr: 0, accNormStderr: 0, n: 10),
                       ZeroShotResult(acc: 0.6, accNorm: 0.3, accStderr: 0, accNormStderr: 0, n: 1000)]
        let average = ZeroShotMetrics.average(results)
        XCTAssertEqual(try XCTUnwrap(average?.acc), 0.4, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(average?.accNorm), 0.4, accuracy: 1e-12)
        XCTAssertNil(ZeroShotMetrics.average([ZeroShotResult]()))
    }

    func testContinuationTokensFollowLmEvalRuleAcrossAMerge() throws {
        _ = try RealInputs.smolLM2Path()  // skips (rather than fails inside XCTUnwrap) when the model is absent
        let tokenizer = try BPETokenizer(try smolLM2TokenizerSpec())
        let merged = try ZeroShotScoring.encodePair(context: "Answer: hel", continuation: "lo world", tokenizer: tokenizer, source: "s")
        XCTAssertEqual(merged, TokenizedRequest(context: [21350, 42, 704], continuation: [905]))
        XCTAssertEqual(tokenizer.encode("Answer: hello world"), [21350, 42, 33662, 905])
        XCTAssertNotEqual(merged.continuation, tokenizer.encode("lo world"))
        // Trailing context whitespace moves into the continuation before encoding (lm-eval's _encode_pair).
        let moved = try ZeroShotScoring.encodePair(context: "Question: x\nAnswer: ", continuation: "yes", tokenizer: tokenizer, source: "s")
        XCTAssertEqual(moved, TokenizedRequest(context: [17872, 42, 1792, 198, 21350, 42], continuation: [9805]))
        // A continuation swallowed whole by the merge has no tokens of its own: an error naming the row.
        XCTAssertThrowsError(try ZeroShotScoring.encodePair(context: "The capital is Par", continuation: "is",
                                                           tokenizer: tokenizer, source: "f.jsonl:3")) {
            XCTAssertTrue("\($0)".hasPrefix("f.jsonl:3:"), "\($0)")
        }
        // An empty context stands on EOS (id 2 in SmolLM2), as lm-eval's empty-context rule.
        XCTAssertEqual(try ZeroShotScoring.encodePair(context: "", continuation: " yes", tokenizer: tokenizer, source: "s"),
                       TokenizedRequest(context: [2], continuation: [9805]))
    }

    /// Sum of log-softmax(logits[row before token])[token] from the full forward's logits, in float64.
    func reference(_ engine: Transformer, _ request: TokenizedRequest) -> Double {
        let whole = request.context + request.continuation
        let input = Array(whole.dropLast().suffix(engine.config.maxPositions))
        let logits = engine.logits(input), vocab = engine.config.vocabSize
        let first = input.count - request.continuation.count
        return request.continuation.enumerated().reduce(0.0) { total, item in
            let row = logits.data[((first + item.offset) * vocab)..<((first + item.offset + 1) * vocab)].map(Double.init)
            let m = row.max()!
            return total + row[Int(item.element)] - m - log(row.reduce(0) { $0 + exp($1 - m) })
        }
    }

    func testLogLikelihoodEqualsSumOverFullForwardLogits() {
        for (name, config) in TinyConfigs.all {
            let engine = Transformer(weights: ModelWeights.random(config: config, seed: 21))
            let requests = [(7, 3), (2, 1), (11, 6), (70, 4)].enumerated().map { index, lengths in
                TokenizedRequest(context: TinyConfigs.tokens(count: lengths.0, vocab: 61, seed: UInt64(index)),
                                 continuation: TinyConfigs.tokens(count: lengths.1, vocab: 61, seed: UInt64(100 + index)))
            }
            // The last request is longer than the 64 positions: it loses tokens at the left, as lm-eval truncates.
            let batched = ZeroShotScoring.logLikelihoods(engine, requests: requests)
            for (request, value) in zip(requests, batched) {
                let expected = reference(engine, request)
                XCTAssertLessThan(value, 0, name)
                XCTAssertEqual(value, expected, accuracy: 1e-5 * abs(expected), name)
            }
        }
    }

    func testSharedContextsGiveTheLogLikelihoodsOfSeparateForwardPasses() {
        for (name, config) in TinyConfigs.all {
            let engine = Transformer(weights: ModelWeights.random(config: config, seed: 22))
            let contextA = TinyConfigs.tokens(count: 10, vocab: 61, seed: 1)
            let contextB = TinyConfigs.tokens(count: 58, vocab: 61, seed: 2)
            // Four choices of one context (one a single token), two of another, the second of which passes the 64
            // positions and so is computed alone, truncated at the left.
            let requests = [(contextA, 4), (contextA, 1), (contextA, 7), (contextB, 3), (contextB, 9), (contextA, 2)]
                .enumerated().map { index, item in
                    TokenizedRequest(context: item.0, continuation: TinyConfigs.tokens(count: item.1, vocab: 61,
                                                                                        seed: UInt64(200 + index)))
                }
            let shared = ZeroShotScoring.logLikelihoods(engine, requests: requests)
            for (request, value) in zip(requests, shared) {
                let expected = reference(engine, request)
                XCTAssertEqual(value, expected, accuracy: 1e-5 * abs(expected), name)
            }
        }
        let example = TokenizedExample(requests: [TokenizedRequest(context: [1, 2, 3], continuation: [4]),
                                                  TokenizedRequest(context: [1, 2, 3], continuation: [5, 6])],
                                       normalizationLengths: [1, 2], gold: 0)
        XCTAssertEqual(example.tokenCost, 6, "a shared context costs once")
    }

    func testPackingRoundTripsAndRejectsCorruptArrays() throws {
        let examples = [
            (task: 0, example: TokenizedExample(requests: [TokenizedRequest(context: [1, 2], continuation: [3]),
                                                            TokenizedRequest(context: [4], continuation: [5, 6, 7])],
                                                 normalizationLengths: [4, 9], gold: 1)),
            (task: 2, example: TokenizedExample(requests: [TokenizedRequest(context: [8], continuation: [9])],
                                                 normalizationLengths: [1], gold: 0)),
        ]
        let flat = ZeroShotPacking.pack(examples)
        let back = try ZeroShotPacking.unpack(flat)
        XCTAssertEqual(back.map(\.task), [0, 2])
        XCTAssertEqual(back.map(\.example), examples.map(\.example))
        XCTAssertEqual(examples[0].example.tokenCost, 7)
        for corrupt in [Array(flat.dropLast()), flat + [0], [Int32(-1)], [1, 0, 5, 1]] {
            XCTAssertThrowsError(try ZeroShotPacking.unpack(corrupt)) { XCTAssertTrue($0 is MopError) }
        }
    }
}
