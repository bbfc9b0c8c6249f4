import XCTest
import TestSupport
@testable import Shared

/// Rank 0's side of `--broadcast-weights` recorded, then replayed into rank 1's: the receiver rebuilds the same
/// weights, tokenizer and checksum; tampered bytes are caught.
final class WeightBroadcastTests: XCTestCase {
    let tokenizer = TokenizerSpec(vocabulary: (0..<61).map { "t\($0)" }, merges: ["t1 t2"], preTokenizer: .smollm,
                                  specialTokenIds: [0], bosTokenId: 0, eosTokenId: 1, addBos: true, chatTemplate: "{{x}}",
                                  padTokenId: 1, unkTokenId: 2)

    func model(_ config: ModelConfig, seed: UInt64 = 5) -> LoadedModel {
        LoadedModel(weights: .random(config: config, seed: seed), tokenizer: tokenizer, format: .huggingFace)
    }

    func recorded(_ loaded: LoadedModel) throws -> (sent: [[UInt8]], bytes: Int) {
        let root = ScriptedCommunicator(rank: 0, size: 2)
        let shared = try WeightBroadcast.share(loaded, communicator: root)
        XCTAssertEqual(shared.model.weights, loaded.weights)
        return (root.sent, shared.bytes)
    }

    func testTheReceiverRebuildsTheSameModel() throws {
        var scaled = TinyConfigs.make(heads: 4, kvHeads: 2, tied: false)
        scaled.ropeScaling = RopeScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192)
        scaled.rmsNormEps = 1e-6
        for config in [TinyConfigs.nonUniform, scaled] {
            let loaded = model(config)
            let (sent, bytes) = try recorded(loaded)
            // The header, then every tensor once: its encoding, then its values.
            let tensorCount = ModelWeights.expectedShapes(config).count
            XCTAssertEqual(sent.count, 1 + 2 * tensorCount)
            XCTAssertEqual(bytes, sent.map(\.count).reduce(0, +))
            XCTAssertEqual(bytes - sent[0].count, 4 * config.parameters + 4 * tensorCount)
            let receiver = ScriptedCommunicator(rank: 1, size: 2, receiving: sent)
            let received = try WeightBroadcast.share(nil, communicator: receiver)
            XCTAssertEqual(received.model.weights, loaded.weights)
            XCTAssertEqual(received.model.tokenizer, tokenizer)
            XCTAssertEqual(received.model.format, .huggingFace)
            XCTAssertEqual(received.checksum, ModelChecksum.of(loaded.weights))
            XCTAssertEqual(received.bytes, bytes)
        }
    }

    /// Matrices kept as stored cross as their stored bytes (F16 here: 2 bytes a weight) and stay stored on arrival.
    func testStoredMatricesCrossInTheirOwnEncoding() throws {
        let directory = NSTemporaryDirectory() + "/mop-broadcast-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = TinyConfigs.make(heads: 4, kvHeads: 2, tied: false)
        try GGUFWriter.write(weights: .random(config: config, seed: 3), tokenizer: tokenizer, to: directory + "/m.gguf", type: .f16)
        let loaded = try ModelLoader.load(path: directory + "/m.gguf", storage: .stored)
        let (sent, bytes) = try recorded(loaded)
        let matrices = ModelWeights.expectedShapes(config).filter { $0.shape.count == 2 }
        let matrixParameters = matrices.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let tensorCount = ModelWeights.expectedShapes(config).count
        XCTAssertEqual(bytes - sent[0].count, 2 * matrixParameters + 4 * (config.parameters - matrixParameters) + 4 * tensorCount)
        let received = try WeightBroadcast.share(nil, communicator: ScriptedCommunicator(rank: 1, size: 2, receiving: sent))
        XCTAssertEqual(received.model.weights, loaded.weights)
        XCTAssertEqual(received.model.weights.layers[0][.q]!.stored?.type, .f16)
        XCTAssertEqual(received.checksum, ModelChecksum.of(loaded.weights))
        // A stored matrix whose bytes do not fit its shape is refused, naming it.
        var short = sent
        short[2].removeLast()
        do {
            _ = try WeightBroadcast.share(nil, communicator: ScriptedCommunicator(rank: 1, size: 2, receiving: short))
            XCTFail("accepted")
        } catch { XCTAssertTrue("\(error)".contains("model.embed_tokens.weight"), "\(error)") }
    }

    func testTamperedOrMalformedBroadcastsAreRefused() throws {
        let (sent, _) = try recorded(model(TinyConfigs.gqa))
        func failure(_ messages: [[UInt8]]) -> String {
            do {
                _ = try WeightBroadcast.share(nil, communicator: ScriptedCommunicator(rank: 1, size: 2, receiving: messages))
                return "accepted"
            } catch { return "\(error)" }
        }
        var flipped = sent
        flipped[4][5] ^= 0x10
        XCTAssertTrue(failure(flipped).contains("the weights received from rank 0 have checksum"), failure(flipped))
        var garbage = sent
        garbage[0] = MessageEnvelope.seal(.modelHeader, Array("{\"vocab_size\": 3}".utf8))
        XCTAssertTrue(failure(garbage).contains("malformed model header from rank 0"), failure(garbage))
        var wrongKind = sent
        wrongKind[0] = ScoringRequest.stop.encoded()
        XCTAssertTrue(failure(wrongKind).contains("it is a scoringRequest message"), failure(wrongKind))
        // A header whose shape the engine cannot run (odd head dimension) is refused before any tensor is read.
        var header = try WeightBroadcast.Header.decode(sent[0])
        header.headDim = 7
        XCTAssertTrue(failure([header.encoded()]).contains("odd"), failure([header.encoded()]))
        header = try WeightBroadcast.Header.decode(sent[0])
        header.format = "onnx"
        var unknown = sent
        unknown[0] = header.encoded()
        XCTAssertTrue(failure(unknown).contains("unknown model format onnx"), failure(unknown))
    }

    /// `--broadcast-weights --stages 2` over 4 ranks: each stage's ranks receive exactly their part (the rest is
    /// absent), checked by the part's checksum; rank 0 keeps the model it read; every tensor crosses once per stage.
    /// (`ModelDistribution` then combines the whole model's checksum: `testStagesCombineTheWholeModelsChecksum`.)
    func testEachStageReceivesOnlyItsPart() throws {
        let config = TinyConfigs.nonUniform, loaded = model(TinyConfigs.nonUniform)
        let layout = try PipelineLayout(stages: 2, ranks: 4, blocks: config.layers.count)
        let parts = layout.parts(config)
        let results = try ThreadedCluster.run(ranks: 4) { communicator in
            try WeightBroadcast.share(communicator.isCoordinator ? loaded : nil, layout: layout, communicator: communicator)
        }
        XCTAssertEqual(results[0].model.weights, loaded.weights)
        for (rank, result) in results.enumerated() {
            let part = parts[layout.stage(ofRank: rank)]
            XCTAssertEqual(result.checksum, ModelChecksum.of(loaded.weights, part: part), "rank \(rank)")
            guard rank > 0 else { continue }
            let expected = Dictionary(uniqueKeysWithValues: loaded.weights.namedTensors().map { ($0.name, $0.tensor) })
            for (name, tensor) in result.model.weights.namedTensors() {
                XCTAssertEqual(tensor.isAbsent, !part.holds(name, config: config), "rank \(rank) \(name)")
                if !tensor.isAbsent { XCTAssertEqual(tensor, expected[name], "rank \(rank) \(name)") }
            }
            XCTAssertEqual(part.bytesHeld(result.model.weights), part.bytesHeld(loaded.weights))
            XCTAssertEqual(result.model.tokenizer, tokenizer)
        }
        // Rank 0 sent each part once (over its stage's ranks): the header plus every tensor of every part.
        let tensorBytes = parts.reduce(0) { total, part in
            total + part.tensors(of: loaded.weights).reduce(0) { $0 + 4 + 4 * $1.tensor.count }
        }
        XCTAssertEqual(results[0].bytes - tensorBytes, results[1].bytes - 4 * parts[1].tensors(of: loaded.weights).reduce(0) { $0 + 1 + $1.tensor.count })
    }

    func testChecksumSeesEveryWeightAndTheShape() {
        let weights = ModelWeights.random(config: TinyConfigs.gqa, seed: 5)
        let checksum = ModelChecksum.of(weights)
        XCTAssertEqual(ModelChecksum.of(ModelWeights.random(config: TinyConfigs.gqa, seed: 5)), checksum)
        XCTAssertNotEqual(ModelChecksum.of(ModelWeights.random(config: TinyConfigs.gqa, seed: 6)), checksum)
        for (index, name) in ModelWeights.expectedShapes(TinyConfigs.gqa).map(\.name).enumerated() {
            var tensors = Dictionary(uniqueKeysWithValues: weights.namedTensors().map { ($0.name, $0.tensor) })
            // The last element of each tensor: a tail that a word-wise hash must not drop.
            tensors[name]!.data[tensors[name]!.data.count - 1] += 1e-3
            let changed = try! ModelWeights(config: TinyConfigs.gqa, tensors: tensors, file: "<test>")
            XCTAssertNotEqual(ModelChecksum.of(changed), checksum, "tensor \(index) \(name)")
        }
        var config = TinyConfigs.gqa
        config.ropeTheta = 20000
        var other = weights
        other.config = config
        XCTAssertNotEqual(ModelChecksum.of(other), checksum)
        XCTAssertEqual(ModelChecksum.hex(0xAB), "00000000000000ab")
    }

    /// With pipeline stages no rank reads the whole model, yet every rank ends with the whole model's checksum, the
    /// one-process value, mapped or broadcast (where a rank's tensors outside its stage are absent), for 2 and 3 stages and 2 stages x 2 replicas, tied embeddings (held by
    /// the first and last stages, counted once) or not; a stage's changed tensor changes it.
    func testStagesCombineTheWholeModelsChecksum() throws {
        let directory = NSTemporaryDirectory() + "/mop-stage-checksum-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layers = [LayerShape](repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 24), count: 4)
        for tied in [true, false] {
            let config = TinyConfigs.make(heads: 4, kvHeads: 2, tied: tied, layers: layers)
            let weights = ModelWeights.random(config: config, seed: 9), path = directory + "/tied-\(tied).gguf"
            try GGUFWriter.write(weights: weights, tokenizer: tokenizer, to: path, type: .f32)
            let whole = ModelChecksum.of(weights)
            for (stages, ranks) in [(2, 2), (3, 3), (2, 4)] {
                let layout = try PipelineLayout(stages: stages, ranks: ranks, blocks: layers.count)
                for source in [ModelDistribution.Source.mapped, .broadcast] {
                    let outcomes = try ThreadedCluster.run(ranks: ranks) { communicator in
                        try ModelDistribution.load(path: path, source: source, layout: layout, communicator: communicator)
                    }
                    XCTAssertEqual(outcomes.map(\.checksum), Array(repeating: whole, count: ranks), "tied \(tied) \(stages) x \(ranks / stages) \(source)")
                    // Broadcast, the last rank received only its stage's part (the rest absent): its sum read nothing else.
                    guard source == .broadcast else { continue }
                    let part = layout.parts(config)[layout.stage(ofRank: ranks - 1)]
                    XCTAssertEqual(outcomes[ranks - 1].model.weights.namedTensors().filter { !$0.tensor.isAbsent }.map(\.name),
                                   part.tensors(of: weights).map(\.name))
                }
            }
            // The last block's down projection changed by one value: the combined checksum moves with it.
            var tensors = Dictionary(uniqueKeysWithValues: weights.namedTensors().map { ($0.name, $0.tensor) })
            let name = ModelWeights.blockPrefix(layers.count - 1) + "mlp.down_proj.weight"
            tensors[name]!.data[3] += 1e-3
            let changed = try ModelWeights(config: config, tensors: tensors, file: "<test>"), changedPath = directory + "/changed.gguf"
            try GGUFWriter.write(weights: changed, tokenizer: tokenizer, to: changedPath, type: .f32)
            let layout = try PipelineLayout(stages: 2, ranks: 2, blocks: layers.count)
            let outcomes = try ThreadedCluster.run(ranks: 2) { communicator in
                try ModelDistribution.load(path: changedPath, source: .mapped, layout: layout, communicator: communicator)
            }
            XCTAssertEqual(outcomes[0].checksum, ModelChecksum.of(changed))
            XCTAssertNotEqual(outcomes[0].checksum, whole)
        }
    }

    func testOneRankLoadsTheFileItselfWhateverTheSource() throws {
        let directory = NSTemporaryDirectory() + "/mop-weights-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/m.gguf"
        let weights = ModelWeights.random(config: TinyConfigs.gqa, seed: 8)
        try GGUFWriter.write(weights: weights, tokenizer: tokenizer, to: path, type: .f32)
        for source in [ModelDistribution.Source.mapped, .broadcast] {
            let outcome = try ModelDistribution.load(path: path, source: source, communicator: ScriptedCommunicator(rank: 0, size: 1))
            XCTAssertEqual(outcome.model.weights, weights)
            XCTAssertEqual(outcome.checksum, ModelChecksum.of(weights))
            XCTAssertEqual(outcome.bytesBroadcast, 0)
        }
        // A mapped rank > 0 compares its file's checksum with rank 0's.
        let other = ScriptedCommunicator(rank: 1, size: 2, receiving: [withUnsafeBytes(of: UInt64(42)) { Array($0) }])
        XCTAssertThrowsError(try ModelDistribution.load(path: path, source: .mapped, communicator: other)) {
            XCTAssertTrue("\($0)".hasPrefix(path + ": holds other weights than rank 0's model"), "\($0)")
        }
    }
}
