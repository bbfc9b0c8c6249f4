import Foundation
import XCTest
@testable import Shared

/// A split GGUF holds what the single file holds, in the parts and keys gguf-split writes, and loads as one model
/// from its first part or its directory; sharded safetensors likewise. A bad set (a missing part, a part of another
/// model or split, a later part given first) is refused naming the file.
final class GGUFSplitTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-split-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private let config = ModelConfig(vocabSize: 96, hidden: 64, headDim: 16,
                                     layers: Array(repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 128), count: 3),
                                     tiedEmbeddings: false, maxPositions: 64)

    /// `weights` as a GGUF in `folder` (created) as `model.gguf` or its parts: the paths written.
    @discardableResult
    private func write(_ weights: ModelWeights, _ folder: String, split: SplitSize?, name: String = "mop") throws -> [String] {
        let out = directory + "/" + folder
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        return try GGUFWriter.write(weights: weights, tokenizer: nil, to: out + "/model.gguf", type: .q8_0, name: name, split: split)
    }

    func testSplitSizeCutsAsGGUFSplitDoes() {
        XCTAssertEqual(SplitSize(parsing: "2G"), SplitSize(maxBytes: 2_000_000_000))
        XCTAssertEqual(SplitSize(parsing: "500M"), SplitSize(maxBytes: 500_000_000))
        for bad in ["", "G", "0M", "-1G", "2K", "1.5G", "2g"] { XCTAssertNil(SplitSize(parsing: bad), bad) }
        // A new part when the next tensor would pass the limit; a tensor larger than the limit alone.
        XCTAssertEqual(SplitSize(maxBytes: 10).parts([4, 4, 4, 20, 1, 9, 1]), [0..<2, 2..<3, 3..<4, 4..<6, 6..<7])
        XCTAssertEqual(SplitSize(maxBytes: 10).parts([]), [0..<0])
        // Pipeline stages: a file per owner's run of tensors, cut further by the size within each run.
        let sizes = [4, 4, 4, 20, 1, 9, 1], owners = [0, 0, 1, 1, 1, 2, 2]
        XCTAssertEqual(SplitSize.parts(sizes, owners: owners, split: nil), [0..<2, 2..<5, 5..<7])
        XCTAssertEqual(SplitSize.parts(sizes, owners: owners, split: SplitSize(maxBytes: 10)), [0..<2, 2..<3, 3..<4, 4..<5, 5..<7])
        XCTAssertEqual(SplitSize.partName("model.gguf", extension: "gguf", index: 1, of: 12), "model-00002-of-00012.gguf")
        XCTAssertEqual(SplitSize.partName("model.safetensors", extension: "safetensors", index: 0, of: 3),
                       "model-00001-of-00003.safetensors")
    }

    func testSplitGGUFReadsAsTheSingleFile() throws {
        let weights = ModelWeights.random(config: config, seed: 8)
        let single = try write(weights, "single", split: nil)
        let parts = try write(weights, "split", split: SplitSize(maxBytes: 20_000))
        XCTAssertEqual(single, [directory + "/single/model.gguf"])
        XCTAssertEqual(parts.map { ($0 as NSString).lastPathComponent },
                       (0..<parts.count).map { "model-\(String(format: "%05d", $0 + 1))-of-\(String(format: "%05d", parts.count)).gguf" })
        XCTAssertGreaterThan(parts.count, 2)

        // The first part holds the metadata and the split keys; the others only the split keys, as gguf-split writes.
        let whole = try GGUFFile(path: single[0])
        let first = try GGUFFile(file: MappedFile(path: parts[0]), joiningParts: false)
        XCTAssertEqual(Array(first.metadataKeys.prefix(whole.metadataKeys.count)), whole.metadataKeys)
        XCTAssertEqual(Array(first.metadataKeys.dropFirst(whole.metadataKeys.count)),
                       [GGUFSplitKeys.number, GGUFSplitKeys.count, GGUFSplitKeys.tensorCount, GGUFSplitKeys.model])
        XCTAssertEqual(first.metadata[GGUFSplitKeys.count], .uint16(UInt16(parts.count)))
        XCTAssertEqual(first.metadata[GGUFSplitKeys.tensorCount], .int32(Int32(whole.tensors.count)))
        let second = try GGUFFile(file: MappedFile(path: parts[1]), joiningParts: false)
        XCTAssertEqual(second.metadataKeys, [GGUFSplitKeys.number, GGUFSplitKeys.count, GGUFSplitKeys.tensorCount, GGUFSplitKeys.model])
        XCTAssertEqual(second.metadata[GGUFSplitKeys.number], .uint16(1))

        // Joined: the same tensors in the same order with the same bytes.
        let joined = try GGUFFile(path: parts[0])
        XCTAssertEqual(joined.tensors.map(\.name), whole.tensors.map(\.name))
        XCTAssertEqual(Set(joined.tensors.map(\.part)), Set(0..<parts.count))
        for (a, b) in zip(joined.tensors, whole.tensors) {
            XCTAssertEqual(Array(try joined.rawBytes(of: a)), Array(try whole.rawBytes(of: b)), a.name)
        }
        // Loaded from the first part or the directory: the same model as the single file.
        let reference = try ModelLoader.load(path: single[0], storage: .fp32).weights
        for path in [parts[0], directory + "/split"] {
            let loaded = try ModelLoader.load(path: path, storage: .stored).weights
            XCTAssertEqual(loaded.config, reference.config)
            for ((name, a), (_, b)) in zip(loaded.namedTensors(), reference.namedTensors()) { XCTAssertEqual(a.data, b.data, name) }
        }
    }

    func testBadSplitSetsAreRefusedNamingTheFile() throws {
        let weights = ModelWeights.random(config: config, seed: 8)
        let parts = try write(weights, "split", split: SplitSize(maxBytes: 20_000))
        let count = parts.count
        func refused(_ path: String, _ file: String, _ contains: String, line: UInt = #line) {
            XCTAssertThrowsError(try ModelLoader.load(path: path), line: line) { error in
                guard let error = error as? MopError else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(error.file, file, line: line)
                XCTAssertTrue(error.problem.contains(contains), error.problem, line: line)
            }
        }
        // A later part given first.
        refused(parts[1], parts[1], "give its first part, \(parts[0])")
        // A part of another model (another name in the metadata: another fingerprint), with the same counts.
        let other = try write(weights, "other", split: SplitSize(maxBytes: 20_000), name: "other")
        XCTAssertEqual(other.count, count)
        try FileManager.default.removeItem(atPath: parts[2])
        try FileManager.default.copyItem(atPath: other[2], toPath: parts[2])
        refused(parts[0], parts[2], "parts of different models")
        // A part of a split into more parts (split.count differs).
        let more = try write(weights, "more", split: SplitSize(maxBytes: 10_000))
        XCTAssertGreaterThan(more.count, count)
        try FileManager.default.removeItem(atPath: parts[2])
        try FileManager.default.copyItem(atPath: more[2], toPath: parts[2])
        refused(parts[0], parts[2], "split.count \(more.count)")
        // A missing part.
        try FileManager.default.removeItem(atPath: parts[2])
        refused(parts[0], parts[2], "part 3 of \(count) of the split GGUF model-00001-of-\(String(format: "%05d", count)).gguf is missing")
        // A first part renamed: its other parts cannot be found.
        let renamed = directory + "/split/renamed.gguf"
        try FileManager.default.moveItem(atPath: parts[0], toPath: renamed)
        refused(renamed, renamed, "not named <prefix>-00001-of-")
    }

    func testShardedSafetensorsReadAsTheSingleFile() throws {
        let weights = ModelWeights.random(config: config, seed: 8)
        let single = directory + "/single", sharded = directory + "/sharded"
        try HFModelDirectory.write(weights, to: single, dtype: .bf16)
        try HFModelDirectory.write(weights, to: sharded, dtype: .bf16, split: SplitSize(maxBytes: 20_000))
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded).sorted()
        XCTAssertFalse(files.contains(HFModelDirectory.weightsName))
        XCTAssertTrue(files.contains(HFModelDirectory.indexName))
        let index = try SafetensorsIndex(path: sharded + "/" + HFModelDirectory.indexName)
        XCTAssertGreaterThan(index.shards.count, 2)
        XCTAssertEqual(Set(index.shards.keys), Set(files.filter { $0.hasSuffix(".safetensors") }))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sharded + "/" + HFModelDirectory.indexName))) as? [String: Any]
        let total = weights.namedTensors().map { $0.tensor.count * SafetensorsDType.bf16.forTensor(shape: $0.tensor.shape).size }.reduce(0, +)
        XCTAssertEqual((json?["metadata"] as? [String: Any])?["total_size"] as? Int, total)
        let a = try HFModelDirectory.load(path: single, storage: .fp32), b = try HFModelDirectory.load(path: sharded, storage: .fp32)
        for ((name, x), (_, y)) in zip(a.namedTensors(), b.namedTensors()) { XCTAssertEqual(x.data, y.data, name) }
        // A missing shard is refused naming it.
        let shard = index.shards.keys.sorted()[1]
        try FileManager.default.removeItem(atPath: sharded + "/" + shard)
        XCTAssertThrowsError(try HFModelDirectory.load(path: sharded)) { error in
            XCTAssertTrue("\(error)".contains(shard), "\(error)")
        }
    }
}
