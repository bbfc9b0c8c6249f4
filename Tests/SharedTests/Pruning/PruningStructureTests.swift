import Foundation
import XCTest
@testable import Shared

final class PruningStructureTests: XCTestCase {
    typealias Support = SafetensorsTestSupport
    let file = "/runs/a/structure.json"

    /// 3 layers, 6 query heads in 2 KV groups of 3, so a query step can drop one head per group and keep two.
    static let gqa6 = TinyConfigs.make(heads: 6, kvHeads: 2, tied: true,
                                       layers: [LayerShape](repeating: LayerShape(heads: 6, kvHeads: 2, intermediate: 24), count: 3))

    private func decode(_ text: String) throws -> PruningStructure {
        try PruningStructure.decode(data: Data(text.utf8), file: file)
    }

    // MARK: JSON

    func testEncodeDecodeRoundTrip() throws {
        let structure = PruningStructure(originalLayers: 30, path: "LGGL", layers: [
            KeptLayer(index: 0, heads: [0, 1, 2, 6, 7, 8], kvHeads: [0, 2], neurons: [0, 2, 5, 1535]),
            KeptLayer(index: 29, heads: [3], kvHeads: [1], neurons: [7]),
        ])
        let data = structure.encode()
        XCTAssertEqual(try PruningStructure.decode(data: data, file: file), structure)
        // The schema's keys, with the layers' keys as docs/design.md#structure-file spells them.
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["version", "original_layers", "path", "layers"])
        XCTAssertEqual(object["version"] as? Int, 1)
        let first = try XCTUnwrap((object["layers"] as? [[String: Any]])?.first)
        XCTAssertEqual(first["kv_heads"] as? [Int], [0, 2])
        XCTAssertEqual(first["neurons"] as? [Int], [0, 2, 5, 1535])
        // Stable: the same structure always encodes to the same bytes.
        XCTAssertEqual(structure.encode(), data)
    }

    func testWriteAndLoadFile() throws {
        let directory = try Support.temporaryDirectory(self)
        let path = directory + "/structure.json"
        let structure = PruningStructure.identity(Self.gqa6)
        try structure.write(to: path)
        XCTAssertEqual(try PruningStructure.load(path: path), structure)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["structure.json"])
        Support.assertMopError(try PruningStructure.load(path: directory + "/absent.json"), path: directory + "/absent.json",
                               phrase: "no such file or directory")
    }

    func testDecodesTheDocumentedForm() throws {
        let structure = try decode("""
        {"version": 1, "original_layers": 30, "path": "LGGL", "layers": [
          {"index": 0, "heads": [0, 1, 3], "kv_heads": [0, 1, 2], "neurons": [0, 2, 9]},
          {"index": 4, "heads": [5], "kv_heads": [1], "neurons": [1535]}]}
        """)
        XCTAssertEqual(structure, PruningStructure(originalLayers: 30, path: "LGGL", layers: [
            KeptLayer(index: 0, heads: [0, 1, 3], kvHeads: [0, 1, 2], neurons: [0, 2, 9]),
            KeptLayer(index: 4, heads: [5], kvHeads: [1], neurons: [1535]),
        ]))
        XCTAssertEqual(structure.shapes, [LayerShape(heads: 3, kvHeads: 3, intermediate: 3), LayerShape(heads: 1, kvHeads: 1, intermediate: 1)])
    }

    func testMalformedJSON() {
        func layer(_ body: String) -> String { "{\"version\": 1, \"original_layers\": 4, \"path\": \"G\", \"layers\": [\(body)]}" }
        let good = "{\"index\": 1, \"heads\": [0, 1], \"kv_heads\": [0], \"neurons\": [3]}"
        let cases: [(String, String)] = [
            ("{\"version\": 1, \"original_layers\"", "not valid JSON"),
            ("[1, 2]", "not a JSON object"),
            ("{\"version\": 2, \"original_layers\": 4, \"path\": \"\", \"layers\": [\(good)]}", "version 2 is not supported"),
            ("{\"original_layers\": 4, \"path\": \"\", \"layers\": [\(good)]}", "key version is missing"),
            ("{\"version\": 1, \"original_layers\": 4, \"path\": \"LXG\", \"layers\": [\(good)]}", "character \"X\""),
            ("{\"version\": 1, \"original_layers\": 4, \"path\": \"\"}", "key layers is missing"),
            ("{\"version\": 1, \"original_layers\": 4, \"path\": \"\", \"layers\": {}}", "layers must be an array"),
            ("{\"version\": 1, \"original_layers\": 0, \"path\": \"\", \"layers\": [\(good)]}", "original_layers = 0 is out of range"),
            (layer(""), "layers is empty"),
            (layer("7"), "layers[0] is not an object"),
            (layer("{\"index\": 1, \"heads\": [1, 0], \"kv_heads\": [0], \"neurons\": [3]}"), "layers[0].heads is not ascending"),
            (layer("{\"index\": 1, \"heads\": [0, 1], \"kv_heads\": [0, 0], \"neurons\": [3]}"), "layers[0].kv_heads repeats 0"),
            (layer("{\"index\": 1, \"heads\": [0, 1], \"kv_heads\": [0], \"neurons\": []}"), "layers[0].neurons is empty"),
            (layer("{\"index\": 1, \"heads\": [-1, 1], \"kv_heads\": [0], \"neurons\": [3]}"), "layers[0].heads = -1 is out of range"),
            (layer("{\"index\": 1, \"heads\": [0, 1], \"neurons\": [3]}"), "layers[0].kv_heads is missing"),
            (layer("{\"index\": 1, \"heads\": \"0\", \"kv_heads\": [0], \"neurons\": [3]}"), "layers[0].heads must be an array"),
            (layer("{\"heads\": [0], \"kv_heads\": [0], \"neurons\": [3]}"), "layers[0].index is missing"),
            (layer("\(good), \(good)"), "layers indices repeats 1"),
            (layer("{\"index\": 3, \"heads\": [0], \"kv_heads\": [0], \"neurons\": [3]}, \(good)"), "layers indices is not ascending"),
            (layer("{\"index\": 4, \"heads\": [0], \"kv_heads\": [0], \"neurons\": [3]}"), "has index 4, out of range 0..<4"),
        ]
        for (text, phrase) in cases {
            Support.assertMopError(try decode(text), path: file, phrase: phrase)
        }
    }

    func testValidationAgainstTheModel() throws {
        let config = Self.gqa6  // 6 heads, 2 KV heads (groups {0,1,2}, {3,4,5}), 24 neurons, 3 layers
        func structure(_ layer: KeptLayer, originalLayers: Int = 3) -> PruningStructure {
            PruningStructure(originalLayers: originalLayers, path: "G", layers: [layer])
        }
        XCTAssertNoThrow(try structure(KeptLayer(index: 2, heads: [1, 2, 3, 5], kvHeads: [0, 1], neurons: [0, 23]))
            .validate(against: config, file: file))
        let cases: [(PruningStructure, String)] = [
            (structure(KeptLayer(index: 0, heads: [0, 6], kvHeads: [0, 1], neurons: [0])), "heads has index 6, the model's layer has only 6"),
            (structure(KeptLayer(index: 0, heads: [0, 3], kvHeads: [0, 2], neurons: [0])), "kv_heads has index 2"),
            (structure(KeptLayer(index: 0, heads: [0, 3], kvHeads: [0, 1], neurons: [24])), "neurons has index 24"),
            (structure(KeptLayer(index: 0, heads: [0], kvHeads: [0], neurons: [0]), originalLayers: 4), "the model has 3 layers"),
            // Head 3 is in group 1, which is removed.
            (structure(KeptLayer(index: 1, heads: [0, 3], kvHeads: [0], neurons: [0])), "query head 3 belongs to KV head 1, which is not kept"),
            // Group 0 keeps two query heads, group 1 one: no file format can hold that.
            (structure(KeptLayer(index: 1, heads: [0, 1, 3], kvHeads: [0, 1], neurons: [0])), "unequal numbers of query heads [2, 1]"),
            // A kept KV head with no query head at all.
            (structure(KeptLayer(index: 1, heads: [0], kvHeads: [0, 1], neurons: [0])), "unequal numbers of query heads [1, 0]"),
        ]
        for (structure, phrase) in cases {
            Support.assertMopError(try structure.validate(against: config, file: file), path: file, phrase: phrase)
        }
        // Surgery refuses an invalid structure the same way, before touching any tensor.
        Support.assertMopError(try cases[4].0.apply(to: ModelWeights.random(config: config, seed: 1), file: file),
                               path: file, phrase: "not kept")
    }

    // MARK: Surgery

    /// Zeroes what `structure` removes inside kept blocks: q rows and o columns of removed heads, gate/up rows and
    /// down columns of removed neurons (k/v of removed KV heads need no zeroing: no kept query head reads them).
    private func zeroingRemovedParts(_ weights: ModelWeights, _ structure: PruningStructure) -> ModelWeights {
        var zeroed = weights
        let hd = weights.config.headDim
        for kept in structure.layers {
            let shape = weights.config.layers[kept.index]
            var layer = zeroed.layers[kept.index]
            for head in 0..<shape.heads where !kept.heads.contains(head) {
                for row in head * hd..<(head + 1) * hd {
                    for c in 0..<layer[.q]!.cols { layer[.q]!.data[row * layer[.q]!.cols + c] = 0 }
                    for r in 0..<layer[.o]!.rows { layer[.o]!.data[r * layer[.o]!.cols + row] = 0 }
                }
            }
            for neuron in 0..<shape.intermediate where !kept.neurons.contains(neuron) {
                for c in 0..<layer[.gate]!.cols {
                    layer[.gate]!.data[neuron * layer[.gate]!.cols + c] = 0
                    layer[.up]!.data[neuron * layer[.up]!.cols + c] = 0
                }
                for r in 0..<layer[.down]!.rows { layer[.down]!.data[r * layer[.down]!.cols + neuron] = 0 }
            }
            zeroed.layers[kept.index] = layer
        }
        return zeroed
    }

    /// The pruned model's logits equal the original's with the removed parts zeroed.
    private func assertSameLogits(_ config: ModelConfig, _ structure: PruningStructure, seed: UInt64,
                                  line: UInt = #line) throws {
        let zeroed = zeroingRemovedParts(ModelWeights.random(config: config, seed: seed), structure)
        let pruned = try structure.apply(to: zeroed)
        XCTAssertEqual(pruned.config.layers, structure.shapes, line: line)
        let tokens = TinyConfigs.tokens(count: 7, vocab: config.vocabSize, seed: seed + 1)
        let expected = Transformer(weights: zeroed).logits(tokens).data.map(Double.init)
        let actual = Transformer(weights: pruned).logits(tokens).data
        XCTAssertLessThan(relativeError(actual, expected), 1e-5, line: line)
        // Removing something must change the model unless it was zeroed: the unzeroed original differs.
        let unzeroed = Transformer(weights: ModelWeights.random(config: config, seed: seed)).logits(tokens).data
        XCTAssertGreaterThan(relativeError(unzeroed, expected), 1e-3, line: line)
    }

    func testSurgeryMHARemovesHeadsAndNeurons() throws {
        let structure = PruningStructure(originalLayers: 2, path: "G", layers: [
            KeptLayer(index: 0, heads: [0, 2, 3], kvHeads: [0, 2, 3], neurons: Array(0..<48).filter { $0 % 3 != 1 }),
            KeptLayer(index: 1, heads: [1], kvHeads: [1], neurons: [4, 5, 40]),
        ])
        try assertSameLogits(TinyConfigs.mha, structure, seed: 11)
    }

    func testSurgeryGQARemovesOneQueryHeadPerGroup() throws {
        let config = Self.gqa6
        let structure = PruningStructure(originalLayers: 3, path: "G", layers: (0..<3).map {
            KeptLayer(index: $0, heads: [0, 2, 4, 5], kvHeads: [0, 1], neurons: Array(stride(from: $0, to: 24, by: 2)))
        })
        try assertSameLogits(config, structure, seed: 21)

        // After surgery head h reads KV head h / 2: kept heads 0, 2 (group 0) then 4, 5 (group 1).
        let original = ModelWeights.random(config: config, seed: 3)
        let pruned = try structure.apply(to: original)
        let hd = config.headDim, d = config.hidden, width = hd * d
        for (h, head) in [0, 2, 4, 5].enumerated() {
            let newGroup = h / (pruned.config.layers[0].heads / pruned.config.layers[0].kvHeads)
            let originalGroup = head / 3
            XCTAssertEqual(pruned.layers[0][.q]!.data[h * width..<(h + 1) * width], original.layers[0][.q]!.data[head * width..<(head + 1) * width])
            XCTAssertEqual(pruned.layers[0][.k]!.data[newGroup * width..<(newGroup + 1) * width],
                           original.layers[0][.k]!.data[originalGroup * width..<(originalGroup + 1) * width])
            XCTAssertEqual(pruned.layers[0][.v]!.data[newGroup * width..<(newGroup + 1) * width],
                           original.layers[0][.v]!.data[originalGroup * width..<(originalGroup + 1) * width])
        }
        // o column 2*hd+1 of the result is original column (head 4)*hd + 1; down column 1 is original neuron 2.
        XCTAssertEqual(pruned.layers[0][.o]!.data[5 * pruned.layers[0][.o]!.cols + 2 * hd + 1], original.layers[0][.o]!.data[5 * 48 + 4 * hd + 1])
        XCTAssertEqual(pruned.layers[0][.down]!.data[3 * 12 + 1], original.layers[0][.down]!.data[3 * 24 + 2])
        XCTAssertEqual(pruned.layers[1][.gate]!.data[0..<d], original.layers[1][.gate]!.data[d..<2 * d])
    }

    func testSurgeryGQARemovesAWholeGroup() throws {
        let structure = PruningStructure(originalLayers: 2, path: "G", layers: [
            KeptLayer(index: 0, heads: [2, 3], kvHeads: [1], neurons: Array(0..<40)),
            KeptLayer(index: 1, heads: [0, 1], kvHeads: [0], neurons: Array(8..<48)),
        ])
        try assertSameLogits(TinyConfigs.gqa, structure, seed: 31)
        let pruned = try structure.apply(to: ModelWeights.random(config: TinyConfigs.gqa, seed: 31))
        XCTAssertEqual(pruned.config.layers, [LayerShape(heads: 2, kvHeads: 1, intermediate: 40), LayerShape(heads: 2, kvHeads: 1, intermediate: 40)])
        XCTAssertEqual(pruned.layers[0][.k]!.shape, [8, 32])
    }

    func testRemovingABlockWithZeroOutputsLeavesLogitsUnchanged() throws {
        let config = TinyConfigs.nonUniform  // blocks (4, 2, 48), (2, 1, 20), (3, 3, 7)
        var weights = ModelWeights.random(config: config, seed: 41)
        weights.layers[1][.o]! = Tensor(zeros: weights.layers[1][.o]!.shape)
        weights.layers[1][.down]! = Tensor(zeros: weights.layers[1][.down]!.shape)
        var structure = PruningStructure.identity(config)
        structure.layers.remove(at: 1)
        structure.path = "L"
        let pruned = try structure.apply(to: weights)
        XCTAssertEqual(pruned.config.layers, [config.layers[0], config.layers[2]])
        XCTAssertEqual(pruned.layers, [weights.layers[0], weights.layers[2]])
        let tokens = TinyConfigs.tokens(count: 6, vocab: config.vocabSize, seed: 42)
        let expected = Transformer(weights: weights).logits(tokens).data.map(Double.init)
        XCTAssertLessThan(relativeError(Transformer(weights: pruned).logits(tokens).data, expected), 1e-5)
    }

    func testIdentityKeepsEverything() throws {
        for (name, config) in TinyConfigs.all {
            let weights = ModelWeights.random(config: config, seed: 51)
            let identity = PruningStructure.identity(config)
            XCTAssertEqual(identity.path, "", name)
            XCTAssertEqual(identity.layers.map(\.index), Array(config.layers.indices), name)
            XCTAssertEqual(try identity.apply(to: weights), weights, name)
            XCTAssertEqual(identity.parameters(of: config), config.parameters, name)
            XCTAssertEqual(try PruningStructure.decode(data: identity.encode(), file: file), identity, name)
        }
    }

    func testParameterCount() {
        // TinyConfigs.gqa: V 61, D 32, hd 8, tied. One block with 2 heads, 1 KV head, 10 neurons:
        // q+o 2*32*16 = 1024, k+v 2*32*8 = 512, MLP 3*32*10 = 960, norms 64 -> 2560; embedding 1952; final norm 32.
        let structure = PruningStructure(originalLayers: 2, path: "LG", layers: [KeptLayer(index: 1, heads: [2, 3], kvHeads: [1], neurons: Array(0..<10))])
        XCTAssertEqual(structure.parameters(of: TinyConfigs.gqa), 2560 + 1952 + 32)
    }

    // MARK: Composition

    func testTwoStepsComposeIntoOne() throws {
        let config = Self.gqa6
        let original = ModelWeights.random(config: config, seed: 61)
        // Step 1 (original indices): drop layer 1, one query head per group in layer 0, neurons everywhere.
        let step1 = PruningStructure(originalLayers: 3, path: "G", layers: [
            KeptLayer(index: 0, heads: [1, 2, 3, 5], kvHeads: [0, 1], neurons: Array(stride(from: 0, to: 24, by: 2))),
            KeptLayer(index: 2, heads: Array(0..<6), kvHeads: [0, 1], neurons: Array(4..<24)),
        ])
        // Step 2 (indices of step 1's result): drop its layer 0, KV group 0 of its layer 1, some neurons.
        let step2 = PruningStructure(originalLayers: 2, path: "L", layers: [
            KeptLayer(index: 1, heads: [3, 4, 5], kvHeads: [1], neurons: [0, 3, 19]),
        ])
        let composed = try step1.composed(with: step2)
        XCTAssertEqual(composed, PruningStructure(originalLayers: 3, path: "GL", layers: [
            KeptLayer(index: 2, heads: [3, 4, 5], kvHeads: [1], neurons: [4, 7, 23]),
        ]))
        XCTAssertEqual(try composed.apply(to: original), try step2.apply(to: try step1.apply(to: original)))

        // A longer chain with a query-head step inside a layer step 1 already narrowed.
        let step3 = PruningStructure(originalLayers: 2, path: "G", layers: [
            KeptLayer(index: 0, heads: [0, 3], kvHeads: [0, 1], neurons: [1, 2, 11]),
            KeptLayer(index: 1, heads: [0, 2, 4, 5], kvHeads: [0, 1], neurons: Array(0..<20)),
        ])
        let chained = try step1.composed(with: step3)
        XCTAssertEqual(chained.layers[0], KeptLayer(index: 0, heads: [1, 5], kvHeads: [0, 1], neurons: [2, 4, 22]))
        XCTAssertEqual(try chained.apply(to: original), try step3.apply(to: try step1.apply(to: original)))
    }

    func testCompositionRejectsAStepOutsideTheCurrentModel() {
        let step1 = PruningStructure(originalLayers: 2, path: "G", layers: [KeptLayer(index: 0, heads: [0, 1], kvHeads: [0, 1], neurons: [0, 1, 2])])
        let cases: [(PruningStructure, String)] = [
            (PruningStructure(originalLayers: 2, path: "L", layers: [KeptLayer(index: 1, heads: [0], kvHeads: [0], neurons: [0])]),
             "original_layers is 2 but the model has 1 layers"),
            (PruningStructure(originalLayers: 1, path: "G", layers: [KeptLayer(index: 0, heads: [0, 2], kvHeads: [0, 1], neurons: [0])]),
             "heads has index 2"),
            (PruningStructure(originalLayers: 1, path: "G", layers: [KeptLayer(index: 0, heads: [0], kvHeads: [0], neurons: [3])]),
             "neurons has index 3"),
        ]
        for (step, phrase) in cases {
            Support.assertMopError(try step1.composed(with: step, file: "step"), path: "step", phrase: phrase)
        }
    }
}
