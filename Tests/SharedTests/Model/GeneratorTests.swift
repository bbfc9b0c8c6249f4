import XCTest
@testable import Shared

final class GeneratorTests: XCTestCase {
    /// Greedy generation without a cache: the full forward over the whole sequence at every step.
    func naiveGreedy(_ engine: Transformer, prompt: [Int32], count: Int) -> [Int32] {
        var sequence = prompt
        for _ in 0..<count {
            let logits = engine.logits(sequence)
            sequence.append(TokenSampler.argmax(Array(logits.data[((sequence.count - 1) * engine.config.vocabSize)...])))
        }
        return Array(sequence.dropFirst(prompt.count))
    }

    func testCachedStepsMatchTheFullForward() {
        for (name, config) in TinyConfigs.all {
            let engine = Transformer(weights: ModelWeights.random(config: config, seed: 31))
            let generator = Generator(model: engine)
            let tokens = TinyConfigs.tokens(count: 20, vocab: 61, seed: 9)
            var cache = KVCache(config: config)
            // Prefill 6, then one token at a time, then a chunk of 4 on top of the cache.
            var logits = generator.step(Array(tokens[0..<6]), cache: &cache)
            var checked = [6]
            for end in 7...16 {
                assertLastRow(logits, engine, Array(tokens[0..<(end - 1)]), name)
                logits = generator.step([tokens[end - 1]], cache: &cache)
                checked.append(end)
            }
            assertLastRow(logits, engine, Array(tokens[0..<16]), name)
            logits = generator.step(Array(tokens[16..<20]), cache: &cache)
            assertLastRow(logits, engine, tokens, name)
            XCTAssertEqual(cache.count, 20)
        }
    }

    func assertLastRow(_ logits: [Float], _ engine: Transformer, _ sequence: [Int32], _ name: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let vocab = engine.config.vocabSize
        let full = engine.logits(sequence).data[((sequence.count - 1) * vocab)...].map(Double.init)
        XCTAssertEqual(logits.count, vocab, file: file, line: line)
        XCTAssertLessThan(relativeError(logits, full), 1e-5, name, file: file, line: line)
    }

    func testGreedyWithCacheEqualsGreedyWithoutCache() throws {
        for (name, config) in TinyConfigs.all {
            let engine = Transformer(weights: ModelWeights.random(config: config, seed: 41))
            let prompt = TinyConfigs.tokens(count: 5, vocab: 61, seed: 4)
            let naive = naiveGreedy(engine, prompt: prompt, count: 24)
            let cached = try Generator(model: engine).generate(prompt: prompt, maxNewTokens: 24, sampler: TokenSampler(),
                                                               stopTokens: [], file: "m.gguf")
            XCTAssertEqual(cached, Generator.Generation(tokens: naive, stop: .maxNewTokens), name)
            // A stop token ends generation right after it is produced (and is kept).
            let stop = naive[9]
            let stopped = try Generator(model: engine).generate(prompt: prompt, maxNewTokens: 24, sampler: TokenSampler(),
                                                                stopTokens: [stop], file: "m.gguf")
            XCTAssertEqual(stopped, Generator.Generation(tokens: Array(naive[...naive.firstIndex(of: stop)!]), stop: .eos), name)
        }
    }

    func testGenerationStopsAtTheLastPosition() throws {
        let engine = Transformer(weights: ModelWeights.random(config: TinyConfigs.gqa, seed: 2))
        let prompt = TinyConfigs.tokens(count: 60, vocab: 61, seed: 1)
        var streamed: [Int32] = []
        let generation = try Generator(model: engine).generate(prompt: prompt, maxNewTokens: 20, sampler: TokenSampler(),
                                                               stopTokens: [], file: "m.gguf") { streamed.append($0) }
        let tokens = generation.tokens
        // 64 positions: the prompt fills 60, four more are fed back, and the fifth token needs no position.
        XCTAssertEqual(tokens.count, 5)
        XCTAssertEqual(generation.stop, .context)
        // Exactly the room left is the limit asked for, not the context's.
        let exact = try Generator(model: engine).generate(prompt: prompt, maxNewTokens: 5, sampler: TokenSampler(),
                                                          stopTokens: [], file: "m.gguf")
        XCTAssertEqual(exact, Generator.Generation(tokens: tokens, stop: .maxNewTokens))
        XCTAssertEqual(streamed, tokens)
        XCTAssertEqual(tokens, naiveGreedy(engine, prompt: prompt, count: 4) + [tokens[4]])
    }

    func testSamplerNucleusTemperatureAndSeed() {
        let logits: [Float] = [log(0.5), log(0.3), log(0.2)].map { Float($0) }
        let nucleus = TokenSampler(temperature: 1, topP: 0.7).distribution(logits)
        XCTAssertEqual(nucleus.map(\.token), [0, 1])
        XCTAssertEqual(nucleus[0].probability, 0.5 / 0.8, accuracy: 1e-6)
        XCTAssertEqual(nucleus[1].probability, 0.3 / 0.8, accuracy: 1e-6)
        // Temperature 2 takes square roots of the probabilities before renormalizing.
        let hot = TokenSampler(temperature: 2).distribution(logits)
        let roots = [0.5, 0.3, 0.2].map { $0.squareRoot() }, total = roots.reduce(0, +)
        for (entry, root) in zip(hot, roots) { XCTAssertEqual(entry.probability, root / total, accuracy: 1e-6) }
        XCTAssertEqual(TokenSampler(temperature: 1, topP: 0.01).distribution(logits).map(\.token), [0])
        // Greedy ignores the seed; draws follow the distribution and repeat for one seed.
        var greedy = TokenSampler()
        XCTAssertEqual(greedy.sample([0, 3, 3, 1]), 1)
        var a = TokenSampler(temperature: 1, seed: 5), b = TokenSampler(temperature: 1, seed: 5)
        var frequency = [Double](repeating: 0, count: 3)
        let draws = 20_000
        for _ in 0..<draws {
            let token = a.sample(logits)
            XCTAssertEqual(token, b.sample(logits))
            frequency[Int(token)] += 1 / Double(draws)
        }
        for (f, p) in zip(frequency, [0.5, 0.3, 0.2]) { XCTAssertEqual(f, p, accuracy: 0.015) }
    }
}
