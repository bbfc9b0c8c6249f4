import XCTest
@testable import Shared

/// The latency model: probe shapes, an exact fit of exactly linear times, terms the probes cannot separate, costs
/// kept non-negative, and one real (tiny) measurement.
final class LatencyModelTests: XCTestCase {
    /// 4 blocks of 6 query heads in 2 KV groups and 40 neurons.
    let gqa = ModelConfig(vocabSize: 50, hidden: 48, headDim: 8,
                          layers: Array(repeating: LayerShape(heads: 6, kvHeads: 2, intermediate: 40), count: 4),
                          tiedEmbeddings: true, maxPositions: 64)

    /// Seconds of a shape under known costs, written out term by term.
    func truth(_ shapes: [LayerShape], constant: Double, block: Double, query: Double, kv: Double, neuron: Double) -> Double {
        var seconds = constant
        for shape in shapes {
            seconds += block + Double(shape.heads) * query + Double(shape.kvHeads) * kv + Double(shape.intermediate) * neuron
        }
        return seconds
    }

    func testProbesAreValidDistinctAndVaryEveryTerm() throws {
        let probes = LatencyProbes.structures(gqa)
        XCTAssertEqual(probes.map(\.name), ["dense", "half the blocks", "half the neurons",
                                            "half the query heads of each group", "half the KV groups", "all of these"])
        for probe in probes { try probe.structure.validate(against: gqa, file: probe.name) }
        let shapes = probes.map { $0.structure.shapes }
        XCTAssertEqual(shapes[1].count, 2, "blocks 0 and 2 kept")
        XCTAssertEqual(shapes[2][0], LayerShape(heads: 6, kvHeads: 2, intermediate: 20))
        XCTAssertEqual(shapes[3][0], LayerShape(heads: 2, kvHeads: 2, intermediate: 40), "one of three heads per group")
        XCTAssertEqual(shapes[4][0], LayerShape(heads: 3, kvHeads: 1, intermediate: 40), "one group of three heads")
        XCTAssertEqual(shapes[5], Array(repeating: LayerShape(heads: 3, kvHeads: 1, intermediate: 20), count: 2))
        XCTAssertEqual(probes[3].structure.layers[0].heads, [0, 3], "the first head of each group")

        // MHA: a group is one head, so halving the heads of each group changes nothing and is left out.
        var mha = gqa
        mha.layers = Array(repeating: LayerShape(heads: 4, kvHeads: 4, intermediate: 40), count: 4)
        XCTAssertEqual(LatencyProbes.structures(mha).map(\.name),
                       ["dense", "half the blocks", "half the neurons", "half the KV groups", "all of these"])
    }

    func testExactlyLinearTimesAreFittedExactly() throws {
        let costs = (constant: 0.5, block: 0.02, query: 0.003, kv: 0.007, neuron: 0.0001)
        let samples = LatencyProbes.structures(gqa).map { probe in
            LatencyModel.Sample(name: probe.name, shapes: probe.structure.shapes,
                                seconds: truth(probe.structure.shapes, constant: costs.constant, block: costs.block,
                                               query: costs.query, kv: costs.kv, neuron: costs.neuron))
        }
        let model = try LatencyModel.fit(samples, promptTokens: 12, newTokens: 128)
        XCTAssertEqual(model.constantSeconds, costs.constant, accuracy: 1e-9)
        XCTAssertEqual(model.blockSeconds, costs.block, accuracy: 1e-9)
        XCTAssertEqual(model.queryHeadSeconds, costs.query, accuracy: 1e-9)
        XCTAssertEqual(model.kvHeadSeconds, costs.kv, accuracy: 1e-9)
        XCTAssertEqual(model.neuronSeconds, costs.neuron, accuracy: 1e-12)
        // A shape no probe had: three uneven blocks.
        let other = [LayerShape(heads: 4, kvHeads: 2, intermediate: 13), LayerShape(heads: 3, kvHeads: 1, intermediate: 40),
                     LayerShape(heads: 6, kvHeads: 2, intermediate: 1)]
        XCTAssertEqual(model.seconds(other), truth(other, constant: costs.constant, block: costs.block, query: costs.query,
                                                   kv: costs.kv, neuron: costs.neuron), accuracy: 1e-9)
        for sample in model.samples { XCTAssertEqual(sample.predictedSeconds, sample.seconds, accuracy: 1e-9) }
        XCTAssertEqual(model.samples[4].queryHeads, 12, "half the KV groups: 3 heads in each of 4 blocks")
        XCTAssertEqual([model.samples[5].blocks, model.samples[5].kvHeads, model.samples[5].neurons], [2, 2, 40])
    }

    func testAnMHAModelFoldsTheKVHeadsIntoTheQueryHeads() throws {
        var mha = gqa
        mha.layers = Array(repeating: LayerShape(heads: 4, kvHeads: 4, intermediate: 40), count: 4)
        let samples = LatencyProbes.structures(mha).map { probe in
            LatencyModel.Sample(name: probe.name, shapes: probe.structure.shapes,
                                seconds: truth(probe.structure.shapes, constant: 0.5, block: 0.02, query: 0.003,
                                               kv: 0.007, neuron: 0.0001))
        }
        let model = try LatencyModel.fit(samples, promptTokens: 12, newTokens: 128)
        XCTAssertEqual(model.kvHeadSeconds, 0)
        XCTAssertEqual(model.queryHeadSeconds, 0.01, accuracy: 1e-9, "a head of an MHA model costs both")
        XCTAssertEqual(model.seconds([LayerShape(heads: 3, kvHeads: 3, intermediate: 7)]),
                       0.5 + 0.02 + 3 * 0.01 + 7 * 0.0001, accuracy: 1e-9)
    }

    func testNoCostIsNegative() throws {
        // KV heads made to look as if they saved time (noise): the term is dropped, not given a negative cost.
        let samples = LatencyProbes.structures(gqa).map { probe in
            LatencyModel.Sample(name: probe.name, shapes: probe.structure.shapes,
                                seconds: truth(probe.structure.shapes, constant: 0.5, block: 0.02, query: 0.003,
                                               kv: -0.004, neuron: 0.0001))
        }
        let model = try LatencyModel.fit(samples, promptTokens: 12, newTokens: 128)
        XCTAssertEqual(model.kvHeadSeconds, 0)
        for value in [model.constantSeconds, model.blockSeconds, model.queryHeadSeconds, model.neuronSeconds] {
            XCTAssertGreaterThanOrEqual(value, 0)
        }
        XCTAssertThrowsError(try LatencyModel.fit(samples.map { var s = $0; s.seconds = -1; return s },
                                                  promptTokens: 12, newTokens: 128)) {
            XCTAssertTrue("\($0)".contains("no model with positive costs"), "\($0)")
        }
    }

    func testAMeasurementOfATinyModelFitsItsProbes() throws {
        let weights = ModelWeights.random(config: gqa, seed: 3)
        let settings = LatencyBenchmark.Settings(runs: 2, warmup: 1, promptTokens: 4, newTokens: 6)
        let model = try LatencyProbes.measure(weights, prompt: [1, 2, 3, 4], settings: settings, rounds: 2)
        XCTAssertEqual(model.samples.count, 6)
        XCTAssertEqual([model.promptTokens, model.newTokens], [4, 6])
        XCTAssertTrue(model.samples.allSatisfy { $0.seconds > 0 && $0.predictedSeconds > 0 })
        XCTAssertGreaterThan(model.seconds(gqa), 0)
        XCTAssertThrowsError(try LatencyProbes.measure(weights, prompt: [1, 2, 3, 4], settings: settings, rounds: 0))
    }
}
