import Foundation

/// One block of the original model that survives pruning, with the parts of it that are kept. All indices are the
/// original model's and ascending.
public struct KeptLayer: Hashable, Codable, Sendable {
    /// The block's index in the original model.
    public var index: Int
    /// Kept query heads.
    public var heads: [Int]
    /// Kept KV heads (equal to `heads` in MHA models).
    public var kvHeads: [Int]
    /// Kept MLP neurons (rows of gate/up, columns of down).
    public var neurons: [Int]

    public init(index: Int, heads: [Int], kvHeads: [Int], neurons: [Int]) {
        self.index = index
        self.heads = heads
        self.kvHeads = kvHeads
        self.neurons = neurons
    }

    enum CodingKeys: String, CodingKey {
        case index, heads, neurons
        case kvHeads = "kv_heads"
    }

    /// The block's shape after surgery.
    public var shape: LayerShape { LayerShape(heads: heads.count, kvHeads: kvHeads.count, intermediate: neurons.count) }
}

/// Which layers, heads and neurons of an original model a pruned model keeps (docs/design.md#structure-file,
/// `structure.json`): enough to re-derive the pruned model from the original, plus the path of search steps that
/// produced it.
public struct PruningStructure: Hashable, Codable, Sendable {
    /// Block count of the original model.
    public var originalLayers: Int
    /// The search steps taken, in order: `L` a depth step (a block removed), `G` a width step.
    public var path: String
    /// Surviving blocks in original order; a removed block has no entry.
    public var layers: [KeptLayer]

    enum CodingKeys: String, CodingKey {
        case path, layers
        case originalLayers = "original_layers"
    }

    public static let version = 1
    public static let stepCharacters: Set<Character> = ["L", "G"]

    public init(originalLayers: Int, path: String, layers: [KeptLayer]) {
        self.originalLayers = originalLayers
        self.path = path
        self.layers = layers
    }

    /// Everything of `config` kept, no steps taken.
    public static func identity(_ config: ModelConfig) -> PruningStructure {
        PruningStructure(originalLayers: config.layers.count, path: "", layers: config.layers.enumerated().map { index, shape in
            KeptLayer(index: index, heads: Array(0..<shape.heads), kvHeads: Array(0..<shape.kvHeads),
                      neurons: Array(0..<shape.intermediate))
        })
    }

    /// The shapes of the pruned blocks, in order.
    public var shapes: [LayerShape] { layers.map(\.shape) }

    /// The configuration of the pruned model: `original` with the kept blocks' shapes.
    public func config(of original: ModelConfig) -> ModelConfig {
        original.keeping(layers.map(\.index), shapes: shapes)
    }

    /// Parameter count of the pruned model.
    public func parameters(of original: ModelConfig) -> Int { config(of: original).parameters }

    // MARK: Validation

    /// Checks the structure against the model it prunes: the layer count, every index in range of its original
    /// block's shape, and GQA groups (every kept query head's KV head is kept, every kept KV head keeps the same
    /// number of query heads, since file formats require equal groups).
    public func validate(against original: ModelConfig, file: String) throws {
        try validate(againstShapes: original.layers, file: file)
    }

    /// `validate(against:file:)` for a model given by its block shapes.
    func validate(againstShapes original: [LayerShape], file: String) throws {
        try validateSelfConsistency(file: file)
        func fail(_ problem: String) -> MopError { MopError(file: file, problem) }
        guard originalLayers == original.count else {
            throw fail("original_layers is \(originalLayers) but the model has \(original.count) layers")
        }
        for (position, layer) in layers.enumerated() {
            let shape = original[layer.index], name = "layers[\(position)] (layer \(layer.index))"
            guard shape.kvHeads > 0, shape.heads % shape.kvHeads == 0 else {
                throw fail("\(name): the model's layer has \(shape.heads) query heads in \(shape.kvHeads) KV groups")
            }
            // The lists are ascending, so the last entry is the largest.
            for (key, list, limit) in [("heads", layer.heads, shape.heads), ("kv_heads", layer.kvHeads, shape.kvHeads),
                                       ("neurons", layer.neurons, shape.intermediate)] {
                if let last = list.last, last >= limit {
                    throw fail("\(name).\(key) has index \(last), the model's layer has only \(limit)")
                }
            }
            let groupSize = shape.heads / shape.kvHeads
            var perGroup: [Int: Int] = [:]
            for head in layer.heads {
                let group = head / groupSize
                guard layer.kvHeads.contains(group) else {
                    throw fail("\(name): query head \(head) belongs to KV head \(group), which is not kept")
                }
                perGroup[group, default: 0] += 1
            }
            let counts = layer.kvHeads.map { perGroup[$0] ?? 0 }
            guard Set(counts).count == 1 else {
                throw fail("\(name): KV heads \(layer.kvHeads) keep unequal numbers of query heads \(counts)")
            }
        }
    }

    /// The checks that need no model: ascending unique indices, non-empty lists, a path of L and G.
    func validateSelfConsistency(file: String) throws {
        func fail(_ problem: String) -> MopError { MopError(file: file, problem) }
        guard originalLayers > 0 else { throw fail("original_layers must be positive, found \(originalLayers)") }
        if let bad = path.first(where: { !Self.stepCharacters.contains($0) }) {
            throw fail("path \"\(path)\" has the character \"\(bad)\"; only L and G are steps")
        }
        guard !layers.isEmpty else { throw fail("layers is empty; at least one layer must be kept") }
        try Self.checkAscending(layers.map(\.index), "layers indices", limit: originalLayers, file: file)
        for (position, layer) in layers.enumerated() {
            try Self.checkAscending(layer.heads, "layers[\(position)].heads", limit: nil, file: file)
            try Self.checkAscending(layer.kvHeads, "layers[\(position)].kv_heads", limit: nil, file: file)
            try Self.checkAscending(layer.neurons, "layers[\(position)].neurons", limit: nil, file: file)
        }
    }

    private static func checkAscending(_ list: [Int], _ name: String, limit: Int?, file: String) throws {
        guard !list.isEmpty else { throw MopError(file: file, "\(name) is empty") }
        if let negative = list.first(where: { $0 < 0 }) { throw MopError(file: file, "\(name) has the negative index \(negative)") }
        for i in list.indices.dropFirst() where list[i] <= list[i - 1] {
            let what = list[i] == list[i - 1] ? "repeats \(list[i])" : "is not ascending (\(list[i - 1]) then \(list[i]))"
            throw MopError(file: file, "\(name) \(what)")
        }
        if let limit, let last = list.last, last >= limit {
            throw MopError(file: file, "\(name) has index \(last), out of range 0..<\(limit)")
        }
    }

    // MARK: Composition

    /// The structure of pruning the original with `self`, then the result with `step`. `step` is expressed in the
    /// pruned model's indices (its `originalLayers` is `self.layers.count`, its layer indices point into
    /// `self.layers`, its head and neuron indices into the kept lists); its path is appended to `self.path`.
    public func composed(with step: PruningStructure, file: String = "<pruning step>") throws -> PruningStructure {
        try step.validate(againstShapes: shapes, file: file)
        let mapped = step.layers.map { inner in
            let outer = layers[inner.index]
            // Both lists ascending, so the mapped lists stay ascending.
            return KeptLayer(index: outer.index, heads: inner.heads.map { outer.heads[$0] },
                             kvHeads: inner.kvHeads.map { outer.kvHeads[$0] }, neurons: inner.neurons.map { outer.neurons[$0] })
        }
        return PruningStructure(originalLayers: originalLayers, path: path + step.path, layers: mapped)
    }

    // MARK: Surgery

    /// The pruned model, cut physically out of `original` (left unchanged): the kept blocks, each tensor cut as the
    /// architecture's table says (q rows and bias of kept heads, k/v rows and biases of kept KV heads, o columns of
    /// kept heads, gate/up rows and down columns of kept neurons, norms whole). Embedding, final norm and output head
    /// are copied. Kept heads stay ascending, so each kept KV head's query heads form one contiguous group, in
    /// KV-head order: the engine's head h -> KV head h / (H/KV) mapping holds in the result. `file` names the
    /// structure in validation errors.
    ///
    /// With `part` (a pipeline stage's), only the blocks the part holds are cut; the others are carried uncut and
    /// untouched, so a stage never reads the pages of blocks it does not hold. Such a model may run only its own
    /// blocks (`blocks(in:)`).
    public func apply(to original: ModelWeights, holding part: ModelPart? = nil,
                      file: String = "<pruning structure>") throws -> ModelWeights {
        try validate(against: original.config, file: file)
        let hd = original.config.headDim, architecture = original.config.architecture
        let slicing = Dictionary(uniqueKeysWithValues: architecture.blockTensors.map { ($0.role, $0.slicing) })
        let blocks = layers.map { kept in
            let block = original.layers[kept.index]
            if let part, !part.blocks.contains(kept.index) { return block }
            return LayerWeights(architecture: architecture) { role in
                let tensor = block[role]!
                return switch slicing[role]! {
                case .none: tensor
                case .queryHeadRows: tensor.gatheringRows(kept.heads, blockSize: hd)
                case .kvHeadRows: tensor.gatheringRows(kept.kvHeads, blockSize: hd)
                case .queryHeadColumns: tensor.gatheringColumns(kept.heads, blockSize: hd)
                case .neuronRows: tensor.gatheringRows(kept.neurons, blockSize: 1)
                case .neuronColumns: tensor.gatheringColumns(kept.neurons, blockSize: 1)
                }
            }
        }
        return ModelWeights(config: config(of: original.config), embedding: original.embedding, layers: blocks,
                            finalNorm: original.finalNorm, output: original.output,
                            finalNormBias: original.finalNormBias, outputBias: original.outputBias)
    }

    /// The pruned model's indices of the blocks a stage holding original blocks `original` runs: the kept blocks
    /// among them, contiguous because kept blocks stay in original order (empty when all were removed).
    public func blocks(in original: Range<Int>) -> Range<Int> {
        let first = layers.firstIndex { $0.index >= original.lowerBound } ?? layers.count
        let end = layers[first...].firstIndex { $0.index >= original.upperBound } ?? layers.count
        return first..<end
    }

    // MARK: JSON

    /// structure.json: pretty-printed, keys in schema order, one kept layer per line so diffs stay readable.
    public func encode() -> Data {
        func list(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }
        let entries = layers.map { layer in
            "    {\"index\": \(layer.index), \"heads\": \(list(layer.heads)), \"kv_heads\": \(list(layer.kvHeads)), "
                + "\"neurons\": \(list(layer.neurons))}"
        }
        let text = """
        {
          "version": \(Self.version),
          "original_layers": \(originalLayers),
          "path": \(Self.jsonString(path)),
          "layers": [
        \(entries.joined(separator: ",\n"))
          ]
        }

        """
        return Data(text.utf8)
    }

    /// A JSON string literal; the path is normally only L and G, but encoding must not break on anything else.
    private static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Parses structure.json and checks its internal consistency (not yet against a model: see `validate`).
    public static func decode(data: Data, file: String) throws -> PruningStructure {
        let fields = try JSONFields(data: data, file: file)
        let version = try fields.int("version", in: Int.min...Int.max)
        guard version == Self.version else { throw MopError(file: file, "version \(version) is not supported (only \(Self.version))") }
        let originalLayers = try fields.int("original_layers", in: 1...HFConfig.maxLayers)
        let path = try fields.string("path")
        guard let entries = fields.object["layers"] else { throw MopError(file: file, "key layers is missing") }
        guard let array = entries as? [Any] else { throw MopError(file: file, "key layers must be an array of objects") }
        let layers = try array.enumerated().map { position, entry -> KeptLayer in
            guard let object = entry as? [String: Any] else { throw MopError(file: file, "layers[\(position)] is not an object") }
            let layer = JSONFields(object: object, file: file, context: "layers[\(position)].")
            func indices(_ key: String) throws -> [Int] {
                guard let list = try layer.optionalIntArray(key, in: 0...Int.max) else {
                    throw MopError(file: file, "key layers[\(position)].\(key) is missing")
                }
                return list
            }
            return KeptLayer(index: try layer.int("index"), heads: try indices("heads"),
                             kvHeads: try indices("kv_heads"), neurons: try indices("neurons"))
        }
        let structure = PruningStructure(originalLayers: originalLayers, path: path, layers: layers)
        try structure.validateSelfConsistency(file: file)
        return structure
    }

    /// Reads and decodes the structure.json at `path`.
    public static func load(path: String) throws -> PruningStructure {
        return try decode(data: RegularFile.read(path), file: path)
    }

    /// Writes structure.json to `path` atomically (temporary name, then rename).
    public func write(to path: String) throws {
        try AtomicFileWriter.write(encode(), to: path)
    }
}

extension Tensor {
    /// The rows of the listed blocks of `blockSize` rows each, in list order: [blocks.count * blockSize, cols]
    /// ([blocks.count * blockSize] for a vector). Indices must be in range (the caller validated them).
    /// A tensor whose every block is kept is shared, not copied (`keepsAll`), so a depth step or an identity
    /// structure costs no weight memory.
    func gatheringRows(_ blocks: [Int], blockSize: Int) -> Tensor {
        if Self.keepsAll(blocks, of: rows / blockSize) { return self }
        if let stored {
            return Tensor(stored: stored.gatheringRows(blocks.flatMap { ($0 * blockSize)..<(($0 + 1) * blockSize) }))
        }
        let width = blockSize * cols
        var out: [Float] = []
        out.reserveCapacity(blocks.count * width)
        for block in blocks { out += data[block * width..<(block + 1) * width] }
        return Tensor(shape: [blocks.count * blockSize] + shape.dropFirst(), data: out)
    }

    /// The columns of the listed blocks of `blockSize` columns each, in list order: [rows, blocks.count * blockSize].
    func gatheringColumns(_ blocks: [Int], blockSize: Int) -> Tensor {
        if Self.keepsAll(blocks, of: cols / blockSize) { return self }
        if let stored {
            return Tensor(stored: stored.gatheringColumns(blocks.flatMap { ($0 * blockSize)..<(($0 + 1) * blockSize) }))
        }
        var out: [Float] = []
        out.reserveCapacity(rows * blocks.count * blockSize)
        data.withUnsafeBufferPointer { source in
            for row in 0..<rows {
                let base = row * cols
                for block in blocks {
                    let start = base + block * blockSize
                    out.append(contentsOf: source[start..<start + blockSize])
                }
            }
        }
        return Tensor(shape: [rows, blocks.count * blockSize], data: out)
    }

    /// True when the ascending list `blocks` is every index below `count`.
    private static func keepsAll(_ blocks: [Int], of count: Int) -> Bool {
        blocks.count == count && blocks.last == count - 1
    }
}
