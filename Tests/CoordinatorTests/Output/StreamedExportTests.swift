import Foundation
import XCTest
@testable import Shared
@testable import Coordinator

/// An export streamed a panel of rows at a time from a model kept as stored (a GGUF's mapped Q8_0 bytes, cut by a
/// structure that drops a layer, a KV group and neurons) writes the files the same pruned model held in fp32 writes,
/// and each tensor's bytes are those of the whole tensor encoded at once (the export before it was streamed). A
/// merged LoRA export (updates added as rows are written) equals the export of the model merged in memory.
final class StreamedExportTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-streamed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Rows of 256 (whole K-quant super-blocks) and an untied output head, so q4_k_m chooses Q4_K, Q6_K and fallbacks.
    static let config = ModelConfig(vocabSize: 61, hidden: 256, headDim: 64,
                                    layers: Array(repeating: LayerShape(heads: 4, kvHeads: 2, intermediate: 512), count: 3),
                                    tiedEmbeddings: false, maxPositions: 64)

    /// Layer 1 removed, a KV group of layer 0 removed, neuron widths of 256 (whole super-blocks) and 300 (padded to 320).
    static let structure = PruningStructure(originalLayers: 3, path: "LG", layers: [
        KeptLayer(index: 0, heads: [2, 3], kvHeads: [1], neurons: Array(stride(from: 0, to: 512, by: 2))),
        KeptLayer(index: 2, heads: [0, 1, 2, 3], kvHeads: [0, 1], neurons: Array(0..<300)),
    ])

    /// The original model as `mop` holds a GGUF by default: every matrix a view of the file's Q8_0 bytes.
    private func storedOriginal() throws -> ModelWeights {
        let path = directory + "/original.gguf"
        try GGUFWriter.write(weights: ModelWeights.random(config: Self.config, seed: 29), tokenizer: nil, to: path, type: .q8_0)
        let weights = try ModelLoader.load(path: path, storage: .stored).weights
        XCTAssertNotNil(weights.layers[0][.down]?.stored)
        return weights
    }

    private func export(_ weights: ModelWeights, _ structure: PruningStructure, _ type: GGUFWriter.MatrixType, _ name: String) throws -> String {
        let out = directory + "/" + name
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try ModelExport.write(original: weights, structure: structure, tokenizer: nil, to: out, format: .both, type: type)
        return out
    }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testStreamedExportIsByteEqualToTheInMemoryOne() throws {
        let stored = try storedOriginal()
        let pruned = try Self.structure.apply(to: stored)
        let held = try ModelWeights(config: pruned.config, tensors: Dictionary(uniqueKeysWithValues: pruned.namedTensors().map {
            ($0.name, Tensor(shape: $0.tensor.shape, data: $0.tensor.data))
        }), file: "<fp32>")
        let ggufLayout = GGUFRopeOrder.convert(held, toGGUF: true, ggufArchitecture: "llama")
        let hfNames = GGUFTensorNames(held.config.architecture)
        let ggufTensors = Dictionary(uniqueKeysWithValues: ggufLayout.namedTensors().compactMap { entry in
            hfNames.gguf(fromHF: entry.name).map { ($0, entry.tensor) }
        })
        for type in [GGUFWriter.MatrixType.f32, .f16, .bf16, .q8_0, .q4_k_m] {
            let streamed = try export(stored, Self.structure, type, "streamed-\(type.rawValue)")
            let inMemory = try export(held, .identity(held.config), type, "fp32-\(type.rawValue)")
            XCTAssertEqual(try bytes(streamed + "/model.gguf"), try bytes(inMemory + "/model.gguf"), "GGUF \(type.rawValue)")
            XCTAssertEqual(try bytes(streamed + "/hf/model.safetensors"), try bytes(inMemory + "/hf/model.safetensors"),
                           "safetensors \(type.rawValue)")

            // Each GGUF tensor: the whole fp32 tensor (GGUF row order, zero neurons appended) encoded in one call.
            let file = try GGUFFile(path: streamed + "/model.gguf")
            var types = Set<GGUFTensorType>()
            for info in file.tensors {
                let values = padded(ggufTensors[info.name]!, to: info.shape)
                var expected = [UInt8](repeating: 0, count: info.byteCount)
                values.withUnsafeBufferPointer { input in
                    expected.withUnsafeMutableBytes {
                        GGUFQuantize.encode(input, as: info.type, columns: info.shape.dropFirst().reduce(1, *), into: $0)
                    }
                }
                XCTAssertEqual(Array(try file.rawBytes(of: info)), expected, "\(type.rawValue) \(info.name)")
                types.insert(info.type)
            }
            if type == .q4_k_m { XCTAssertTrue(types.isSuperset(of: [.q4_K, .q6_K, .f32]), "\(types)") }
            // Each safetensors tensor: the whole fp32 tensor in its dtype.
            let safetensors = try SafetensorsFile(path: streamed + "/hf/model.safetensors")
            for (name, tensor) in held.namedTensors() {
                XCTAssertEqual(try safetensors.tensor(named: name)?.data, Self.rounded(tensor.data, safetensors.entry(named: name)!.dtype), name)
            }
        }
        XCTAssertEqual(try GGUFFile(path: directory + "/streamed-q4_k_m/model.gguf").tensor(named: "blk.1.ffn_down.weight")?.dimensions, [320, 256])
    }

    /// `values` through `dtype` and back.
    private static func rounded(_ values: [Float], _ dtype: SafetensorsDType) -> [Float] {
        var bytes = [UInt8](repeating: 0, count: values.count * dtype.size)
        values.withUnsafeBufferPointer { input in bytes.withUnsafeMutableBytes { dtype.encode(input, into: $0) } }
        var out = [Float](repeating: 0, count: values.count)
        bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { dtype.decode(raw, into: $0) } }
        return out
    }

    /// The tensor's values with zero rows and (for a matrix) zero columns appended up to `shape`.
    private func padded(_ tensor: Tensor, to shape: [Int]) -> [Float] {
        let rows = tensor.rows, cols = tensor.cols, wide = shape.dropFirst().reduce(1, *)
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        let data = tensor.data
        for r in 0..<rows { for c in 0..<cols { out[r * wide + c] = data[r * cols + c] } }
        return out
    }

    /// Adapters with every B non-zero, on every target (Q and K included, whose GGUF rows are permuted): the export of
    /// the merge into stored weights (each update kept factored and added as the rows are written) equals the export
    /// of the merge into fp32 weights (W + scale B A in memory), in both formats.
    func testMergedExportEqualsTheExportOfTheMergedModel() throws {
        let stored = try storedOriginal()
        let layout = LoRALayout(config: LoRAConfig(rank: 4), model: stored.config)
        var rng = SeededRandom(seed: 11)
        let adapters = LoRAAdapters(config: LoRAConfig(rank: 4), layout: layout, parameters: (0..<layout.count).map { _ in rng.uniform(0.05) })
        let factored = adapters.merged(into: stored)
        XCTAssertNotNil(factored.layers[0][.q]?.lowRank)
        let fp32 = adapters.merged(into: try ModelLoader.load(path: directory + "/original.gguf", storage: .fp32).weights)
        XCTAssertNil(fp32.layers[0][.q]?.lowRank)
        let streamed = try export(factored, .identity(factored.config), .f32, "streamed")
        let inMemory = try export(fp32, .identity(fp32.config), .f32, "merged")
        let ours = try ModelLoader.load(path: streamed + "/model.gguf", storage: .fp32).weights
        let reference = try ModelLoader.load(path: inMemory + "/model.gguf", storage: .fp32).weights
        let hf = try ModelLoader.load(path: streamed + "/hf", storage: .fp32).weights
        var changed = 0
        for ((name, a), ((_, b), (_, c))) in zip(ours.namedTensors(), zip(reference.namedTensors(), hf.namedTensors())) {
            for (x, (y, z)) in zip(a.data, zip(b.data, c.data)) {
                XCTAssertEqual(x, y, accuracy: 1e-6, name)
                XCTAssertEqual(z, y, accuracy: 1e-6, name)
            }
            if a.data != stored.namedTensors().first(where: { $0.name == name })!.tensor.data { changed += 1 }
        }
        XCTAssertEqual(changed, layout.entries.count)
    }
}
