import Foundation
import TestSupport
import XCTest
@testable import Coordinator
@testable import Shared

/// Pipeline stages as threads, each holding its stage's part of a stored model (every tensor outside it NaN), write
/// the one-process export's bytes: a split GGUF of one part per stage (the first with the metadata and tokenizer) and
/// sharded safetensors with rank 0's index, for f32 and q4_k_m with an importance matrix; with `singleGGUF` rank 0's
/// model.gguf is the one-process file byte for byte; a split size cuts a stage's tensors further.
final class StagedExportTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-staged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    static let pieces = ["<unk>", "<s>", "</s>"] + (0..<256).map { String(format: "<0x%02X>", $0) } + ["▁", "a"]
    static let tokenizer = TokenizerSpec(model: .sentencePiece, vocabulary: pieces, merges: [], preTokenizer: .gpt2,
                                         specialTokenIds: [0, 1, 2], scores: pieces.map { _ in 0 },
                                         tokenTypes: [.unknown, .control, .control] + (0..<256).map { _ in .byte } + [.normal, .normal],
                                         bosTokenId: 1, eosTokenId: 2, addBos: true, dummyPrefix: .always, unkTokenId: 0)

    /// Rows of 256 (whole K-quant super-blocks) and an untied head, so q4_k_m chooses Q4_K, Q6_K and fallbacks.
    static let config = ModelConfig(vocabSize: pieces.count, hidden: 256, headDim: 64,
                                    layers: Array(repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 512), count: 4),
                                    tiedEmbeddings: false, maxPositions: 64)

    /// Block 1 removed, a KV group of block 0, neuron widths of 256 and 300 (padded to 320 in a block type).
    static let structure = PruningStructure(originalLayers: 4, path: "LG", layers: [
        KeptLayer(index: 0, heads: [2, 3], kvHeads: [1], neurons: Array(stride(from: 0, to: 512, by: 2))),
        KeptLayer(index: 2, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: Array(0..<300)),
        KeptLayer(index: 3, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: Array(0..<512)),
    ])

    /// The original as `mop` holds a GGUF by default: every matrix a view of the file's Q8_0 bytes.
    private func storedOriginal() throws -> ModelWeights {
        let path = directory + "/original.gguf"
        if !FileManager.default.fileExists(atPath: path) {
            try GGUFWriter.write(weights: ModelWeights.random(config: Self.config, seed: 31), tokenizer: nil, to: path, type: .q8_0)
        }
        return try ModelLoader.load(path: path, storage: .stored).weights
    }

    /// One weight per column of every matrix of the pruned model (the GGUF pads the down projections' own).
    private func importance(_ pruned: ModelWeights) -> [String: [Float]] {
        var rng = SeededRandom(seed: 5)
        return Dictionary(uniqueKeysWithValues: pruned.namedTensors().filter { $0.tensor.shape.count == 2 }.map { name, tensor in
            (name, (0..<tensor.cols).map { _ in 1.1 + rng.uniform(1) })
        })
    }

    private func folder(_ name: String) throws -> String {
        let out = directory + "/" + name
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        return out
    }

    /// The one-process export.
    private func reference(_ type: GGUFWriter.MatrixType, importance: [String: [Float]]) throws -> String {
        let out = try folder("one-\(type.rawValue)")
        try ModelExport.write(original: try storedOriginal(), structure: Self.structure, tokenizer: Self.tokenizer, to: out,
                              format: .both, type: type, importance: importance)
        return out
    }

    /// Every rank (a thread) writes its stage's part from the original poisoned outside its stage.
    private func staged(_ name: String, stages: Int, ranks: Int, type: GGUFWriter.MatrixType, importance: [String: [Float]],
                        split: SplitSize? = nil, single: Bool = false) throws -> String {
        let out = try folder(name), stored = try storedOriginal(), config = Self.config
        let layout = try PipelineLayout(stages: stages, ranks: ranks, blocks: config.layers.count)
        _ = try ThreadedCluster.run(ranks: ranks) { communicator in
            let part = layout.parts(config)[layout.stage(ofRank: communicator.rank)]
            let held = try Self.structure.apply(to: stored.poisoned(outside: part), holding: part)
            try StagedExport(held: held, parts: layout.parts(config, pruned: Self.structure), layout: layout, tokenizer: Self.tokenizer,
                             directory: out, format: .both, type: type, importance: importance, split: split, singleGGUF: single,
                             communicator: communicator).write(structure: Self.structure)
        }
        return out
    }

    /// The stage writing the GGUF tensor `name` or the Hugging Face tensor `name`, among `parts`.
    private func stage(of name: String, _ parts: [ModelPart]) -> Int {
        for prefix in ["blk.", "model.layers."] where name.hasPrefix(prefix) {
            let block = Int(name.dropFirst(prefix.count).prefix { $0 != "." })!
            return parts.firstIndex { $0.blocks.contains(block) }!
        }
        return name.hasPrefix("token_embd") || name.hasPrefix("model.embed_tokens") ? 0 : parts.count - 1
    }

    /// `names` (in file order) cut where their stage changes.
    private func runs(_ names: [String], _ parts: [ModelPart]) -> [[String]] {
        var runs: [[String]] = []
        for (index, name) in names.enumerated() {
            if index > 0 && stage(of: name, parts) == stage(of: names[index - 1], parts) { runs[runs.count - 1].append(name) } else { runs.append([name]) }
        }
        return runs
    }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// The files in `out` (or `out/hf`) of `count` parts named after `name`.
    private func partNames(_ name: String, extension: String, count: Int) -> [String] {
        (0..<count).map { SplitSize.partName(name, extension: `extension`, index: $0, of: count) }
    }

    func testStagesWriteTheOneProcessExportsBytes() throws {
        let pruned = try Self.structure.apply(to: storedOriginal())
        for type in [GGUFWriter.MatrixType.f32, .q4_k_m] {
            let weights = type == .q4_k_m ? importance(pruned) : [:]
            let one = try reference(type, importance: weights)
            let whole = try GGUFFile(path: one + "/model.gguf")
            let wholeHF = try SafetensorsFile(path: one + "/hf/model.safetensors")
            // With 4 stages of one block each, the second stage's block is removed: it writes no file.
            for (stages, ranks) in [(2, 2), (3, 3), (2, 4), (4, 4)] {
                let name = "\(type.rawValue) \(stages) x \(ranks / stages)"
                let out = try staged("\(type.rawValue)-\(stages)x\(ranks / stages)", stages: stages, ranks: ranks, type: type, importance: weights)
                let parts = try PipelineLayout(stages: stages, ranks: ranks, blocks: 4).parts(Self.config, pruned: Self.structure)

                // One GGUF part per stage that holds anything, each with its stage's tensors in file order.
                let expected = runs(whole.tensors.map(\.name), parts)
                if stages == 4 { XCTAssertEqual(expected.count, 3, name) }
                let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".gguf") }.sorted()
                XCTAssertEqual(files, partNames("model.gguf", extension: "gguf", count: expected.count), name)
                for (index, file) in files.enumerated() {
                    let part = try GGUFFile(file: MappedFile(path: out + "/" + file), joiningParts: false)
                    XCTAssertEqual(part.tensors.map(\.name), expected[index], name)
                    XCTAssertEqual(part.metadata[GGUFSplitKeys.number], .uint16(UInt16(index)), name)
                    XCTAssertEqual(part.metadata[GGUFSplitKeys.count], .uint16(UInt16(files.count)), name)
                    XCTAssertEqual(part.metadata[GGUFSplitKeys.tensorCount], .int32(Int32(whole.tensors.count)), name)
                    // The first part carries the one-process file's metadata (and tokenizer), the others only the split keys.
                    let own = index == 0 ? whole.metadataKeys : []
                    XCTAssertEqual(part.metadataKeys, own + [GGUFSplitKeys.number, GGUFSplitKeys.count, GGUFSplitKeys.tensorCount, GGUFSplitKeys.model], name)
                    for key in own { XCTAssertEqual(part.metadata[key], whole.metadata[key], "\(name): \(key)") }
                }
                let joined = try GGUFFile(path: out + "/" + files[0])
                XCTAssertEqual(joined.tensors.map(\.name), whole.tensors.map(\.name), name)
                for (a, b) in zip(joined.tensors, whole.tensors) {
                    XCTAssertEqual(a.type, b.type, "\(name): \(a.name)")
                    XCTAssertEqual(a.dimensions, b.dimensions, "\(name): \(a.name)")
                    XCTAssertEqual(Array(try joined.rawBytes(of: a)), Array(try whole.rawBytes(of: b)), "\(name): \(a.name)")
                }

                // Sharded safetensors: one shard per stage, rank 0's index naming each tensor's shard.
                let hfNames = wholeHF.entries.map(\.name).sorted { a, b in
                    pruned.namedTensors().firstIndex { $0.name == a }! < pruned.namedTensors().firstIndex { $0.name == b }!
                }
                let shards = runs(hfNames, parts), shardNames = partNames("model.safetensors", extension: "safetensors", count: shards.count)
                let index = try SafetensorsIndex(path: out + "/hf/" + HFModelDirectory.indexName)
                XCTAssertEqual(index.weightMap, Dictionary(uniqueKeysWithValues: zip(shards, shardNames).flatMap { names, shard in
                    names.map { ($0, shard) }
                }), name)
                for (names, shard) in zip(shards, shardNames) {
                    XCTAssertEqual(try SafetensorsFile(path: out + "/hf/" + shard).entries.map(\.name), names, name)
                }
                for tensor in hfNames {
                    XCTAssertEqual(try index.tensor(named: tensor)?.data, try wholeHF.tensor(named: tensor)?.data, "\(name): \(tensor)")
                    XCTAssertEqual(index.shards[index.weightMap[tensor]!]!.entry(named: tensor)!.dtype, wholeHF.entry(named: tensor)!.dtype)
                }
                XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/hf/model.safetensors"), name)
                for file in ["config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model"] {
                    XCTAssertEqual(try bytes(out + "/hf/" + file), try bytes(one + "/hf/" + file), "\(name): \(file)")
                }
                XCTAssertEqual(try bytes(out + "/structure.json"), try bytes(one + "/structure.json"), name)

                // Read back as one model, from the split GGUF and from the sharded folder.
                for (path, reference) in [(out + "/" + files[0], one + "/model.gguf"), (out + "/hf", one + "/hf")] {
                    let loaded = try ModelLoader.load(path: path, storage: .fp32).weights
                    let want = try ModelLoader.load(path: reference, storage: .fp32).weights
                    XCTAssertEqual(loaded.config, want.config, "\(name): \(path)")
                    for ((tensor, a), (_, b)) in zip(loaded.namedTensors(), want.namedTensors()) { XCTAssertEqual(a.data, b.data, "\(name): \(tensor)") }
                }
            }
        }
    }

    func testSingleGGUFIsTheOneProcessFile() throws {
        let weights = importance(try Self.structure.apply(to: storedOriginal()))
        for type in [GGUFWriter.MatrixType.f32, .q4_k_m] {
            let one = try reference(type, importance: type == .q4_k_m ? weights : [:])
            for (stages, ranks) in [(2, 2), (3, 3), (2, 4)] {
                let name = "\(type.rawValue) \(stages) x \(ranks / stages)"
                let out = try staged("single-\(type.rawValue)-\(stages)x\(ranks / stages)", stages: stages, ranks: ranks, type: type,
                                     importance: type == .q4_k_m ? weights : [:], single: true)
                XCTAssertEqual(try bytes(out + "/model.gguf"), try bytes(one + "/model.gguf"), name)
                XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".gguf") }, ["model.gguf"], name)
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/hf/" + HFModelDirectory.indexName), name)
            }
        }
    }

    func testSplitSizeCutsWithinEachStage() throws {
        let one = try reference(.f32, importance: [:])
        let whole = try GGUFFile(path: one + "/model.gguf")
        let out = try staged("split", stages: 2, ranks: 2, type: .f32, importance: [:], split: SplitSize(maxBytes: 600_000))
        let parts = try PipelineLayout(stages: 2, ranks: 2, blocks: 4).parts(Self.config, pruned: Self.structure)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".gguf") }.sorted()
        XCTAssertGreaterThan(files.count, 2)
        XCTAssertEqual(files, partNames("model.gguf", extension: "gguf", count: files.count))
        var names: [String] = []
        for file in files {
            let part = try GGUFFile(file: MappedFile(path: out + "/" + file), joiningParts: false)
            XCTAssertEqual(Set(part.tensors.map { stage(of: $0.name, parts) }).count, 1, file)
            XCTAssertLessThanOrEqual(part.tensors.reduce(0) { $0 + GGUFFileWriter.aligned($1.byteCount) }, max(600_000, part.tensors.map(\.byteCount).max()!), file)
            names += part.tensors.map(\.name)
        }
        XCTAssertEqual(names, whole.tensors.map(\.name))
        let joined = try GGUFFile(path: out + "/" + files[0])
        for (a, b) in zip(joined.tensors, whole.tensors) {
            XCTAssertEqual(Array(try joined.rawBytes(of: a)), Array(try whole.rawBytes(of: b)), a.name)
        }
        let shards = try FileManager.default.contentsOfDirectory(atPath: out + "/hf").filter { $0.hasSuffix(".safetensors") }
        XCTAssertGreaterThan(shards.count, 2)
    }
}
