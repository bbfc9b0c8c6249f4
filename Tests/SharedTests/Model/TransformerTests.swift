import XCTest
@testable import Shared

final class TransformerTests: XCTestCase {
    func testLogitsMatchFloat64Reference() {
        for (name, config) in TinyConfigs.all {
            let weights = ModelWeights.random(config: config, seed: 7)
            let tokens = TinyConfigs.tokens(count: 13, vocab: config.vocabSize, seed: 3)
            let engine = Transformer(weights: weights)
            let logits = engine.logits(tokens)
            XCTAssertEqual(logits.shape, [13, config.vocabSize])
            let reference = ReferenceLlama.logits(weights, tokens: tokens).flatMap { $0 }
            XCTAssertLessThan(relativeError(logits.data, reference), 1e-4, name)
        }
    }

    func testBatchedSequencesOfDifferentLengthsEqualOneByOne() {
        let engine = Transformer(weights: ModelWeights.random(config: TinyConfigs.gqa, seed: 11))
        let batch = [5, 17, 1, 9].enumerated().map { TinyConfigs.tokens(count: $1, vocab: 61, seed: UInt64($0)) }
        let stacked = engine.hiddenStates(batch)
        var offset = 0
        for sequence in batch {
            let alone = engine.hiddenStates([sequence])
            // BLAS blocks differently for other row counts, so equal up to float rounding.
            let part = Array(stacked[offset..<(offset + alone.count)])
            XCTAssertLessThan(relativeError(part, alone.map(Double.init)), 1e-5)
            offset += alone.count
        }
    }

    func testContinuationsOfASharedPrefixEqualTheWholeSequences() {
        for (name, config) in TinyConfigs.all {
            let engine = Transformer(weights: ModelWeights.random(config: config, seed: 12))
            let contexts = [9, 4].enumerated().map { TinyConfigs.tokens(count: $1, vocab: 61, seed: UInt64($0)) }
            let continuations = [(0, 6), (0, 1), (1, 11), (0, 3)].enumerated().map { index, item in
                (prefix: item.0, tokens: TinyConfigs.tokens(count: item.1, vocab: 61, seed: UInt64(50 + index)))
            }
            let stacked = engine.hiddenStates(contexts + continuations.map(\.tokens),
                                              prefixes: [nil, nil] + continuations.map(\.prefix))
            let d = config.hidden
            var row = 0
            for context in contexts {
                let alone = engine.hiddenStates([context])
                XCTAssertLessThan(relativeError(Array(stacked[(row * d)..<((row + context.count) * d)]), alone.map(Double.init)),
                                  1e-5, name)
                row += context.count
            }
            for continuation in continuations {
                // The same rows as the continuation's part of the whole sequence, computed without sharing.
                let context = contexts[continuation.prefix]
                let whole = engine.hiddenStates([context + continuation.tokens])
                let expected = whole[(context.count * d)...].map(Double.init)
                XCTAssertLessThan(relativeError(Array(stacked[(row * d)..<((row + continuation.tokens.count) * d)]), expected),
                                  1e-5, name)
                row += continuation.tokens.count
            }
            XCTAssertEqual(row * d, stacked.count, name)
        }
    }

    func testNextTokenLossMatchesReference() {
        for (name, config) in TinyConfigs.all {
            let weights = ModelWeights.random(config: config, seed: 5)
            // More than one chunk of rows, in two sequences.
            let batch = [TinyConfigs.tokens(count: 40, vocab: config.vocabSize, seed: 1),
                         TinyConfigs.tokens(count: 33, vocab: config.vocabSize, seed: 2)]
            let result = NextTokenLoss.sum(Transformer(weights: weights), batch: batch)
            let reference = batch.map { ReferenceLlama.negativeLogLikelihood(weights, tokens: $0) }.reduce(0, +)
            XCTAssertEqual(result.tokens, 39 + 32)
            XCTAssertEqual(result.negativeLogLikelihood, reference, accuracy: 1e-4 * reference, name)
        }
    }

    func testLossChunksHoldHalfTheHeadsBytesOfLogitsAndAtLeast64Rows() {
        func head(vocab: Int, hidden: Int) -> OutputHead {
            OutputHead(matrix: Tensor(shape: [vocab, hidden], data: [Float](repeating: 0, count: vocab * hidden)))
        }
        // fp32: half of V x D floats is D / 2 rows of V logits.
        XCTAssertEqual(NextTokenLoss.chunkRows(for: head(vocab: 1000, hidden: 300)), 150)
        XCTAssertEqual(NextTokenLoss.chunkRows(for: head(vocab: 1000, hidden: 100)), NextTokenLoss.chunkRows)
    }

    func testRopeRotatesPairsHalfApartWithLlama3Scaling() {
        var config = TinyConfigs.gqa
        config.ropeScaling = RopeScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16)
        let inv = Rope.inverseFrequencies(config)
        // Reference: the transformers `_compute_llama3_parameters` rule, written out for each i.
        for (i, f) in inv.enumerated() {
            let base = pow(10000.0, -2 * Double(i) / 8)
            let wavelength = 2 * Double.pi / base
            let expected: Double
            if wavelength < 16.0 / 4 { expected = base }
            else if wavelength > 16.0 { expected = base / 8 }
            else {
                let smooth = (16 / wavelength - 1) / 3
                expected = (1 - smooth) * base / 8 + smooth * base
            }
            XCTAssertEqual(f, expected, accuracy: 1e-15 * max(1, expected))
        }
        let rope = Rope(config: TinyConfigs.gqa, positions: 4)
        var x: [Float] = (0..<8).map { Float($0 + 1) }
        x.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, tokens: 1, heads: 1, startPosition: 3) }
        for i in 0..<4 {
            let angle = 3 * pow(10000.0, -2 * Double(i) / 8)
            XCTAssertEqual(Double(x[i]), Double(i + 1) * cos(angle) - Double(i + 5) * sin(angle), accuracy: 1e-5)
            XCTAssertEqual(Double(x[i + 4]), Double(i + 5) * cos(angle) + Double(i + 1) * sin(angle), accuracy: 1e-5)
        }
    }

    func testVectorExpIsAccurate() {
        for x in stride(from: Float(-87), through: 88, by: 0.37) {
            let fast = Double(VectorMath.exp(x)), exact = Foundation.exp(Double(x))
            XCTAssertEqual(fast, exact, accuracy: 3e-7 * exact, "exp(\(x))")
        }
        XCTAssertEqual(VectorMath.exp(-200), 0, accuracy: 1e-37)
    }

    func testSoftmaxAndSwiGLUAgainstScalarFormulas() {
        var row: [Float] = [3, -1, 0.5, 2, 2, -7, 0, 1, 4, -2, 0.25]
        let expected = row.map { Foundation.exp(Double($0 - 4)) }
        let total = expected.reduce(0, +)
        row.withUnsafeMutableBufferPointer { VectorMath.softmax($0.baseAddress!, count: $0.count) }
        for (a, b) in zip(row, expected) { XCTAssertEqual(Double(a), b / total, accuracy: 1e-6) }

        var gate: [Float] = (0..<19).map { Float($0) * 0.7 - 6 }
        let up: [Float] = (0..<19).map { Float($0) * -0.3 + 1 }
        let reference = zip(gate, up).map { Double($0) / (1 + Foundation.exp(-Double($0))) * Double($1) }
        gate.withUnsafeMutableBufferPointer { g in
            up.withUnsafeBufferPointer { VectorMath.swiGLU(gate: g.baseAddress!, up: $0.baseAddress!, count: 19) }
        }
        for (a, b) in zip(gate, reference) { XCTAssertEqual(Double(a), b, accuracy: 1e-5 * max(1, abs(b))) }
    }
}
