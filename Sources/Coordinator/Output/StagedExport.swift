import Foundation
import Shared

/// `ModelExport.write` under pipeline stages (`--stages`), where no rank holds the model: each stage writes its own
/// files of the export, the tensors it holds (`ModelPart.writes`) with the bytes the one-process export gives them.
/// The GGUF becomes llama.cpp's split GGUF, one part per stage (`model-0000k-of-0000n.gguf` with gguf-split's `split.*`
/// keys; the first part, stage 0's, carries the metadata and the tokenizer), and the Hugging Face folder sharded
/// safetensors, one shard per stage (rank 0 writes `model.safetensors.index.json`, config.json and the tokenizer
/// files). `split` (`--split-max-size`) cuts a stage's tensors into more files; a stage left without a block or the
/// embedding or head writes none. With `singleGGUF` (`--gguf-single`) rank 0 writes `model.gguf` as one file instead,
/// receiving every other stage's tensors in file order a panel at a time. Only the first replica's ranks write; every
/// rank takes part, since each step is a collective. Files go to temporary names, renamed into place once every rank's
/// are complete.
public struct StagedExport {
    /// The model as this rank writes it: the tensors it writes, the others `Tensor(absent:)` with their shapes.
    let view: ModelWeights
    let directory: String
    let format: ModelExport.Format
    let tokenizer: TokenizerSpec?
    let singleGGUF: Bool
    let split: SplitSize?
    let communicator: any Communicator
    /// This rank's stage, nil on the ranks of other replicas (they write nothing).
    let stage: Int?
    /// The stage writing each tensor, by Hugging Face name.
    let owners: [String: Int]
    let gguf: GGUFExport?
    let safetensors: [HFModelDirectory.SafetensorsTensor]
    let configData: Data?

    /// The tag of the tensor panels a stage sends to rank 0 for a single-file GGUF; no other mop traffic uses it.
    static let tag = 0x5A70

    /// Makes every rank's part of the export ready and checks it (a collective): `held` is the rank's model (its
    /// stage's blocks cut as pruned, `PruningStructure.apply(to:holding:)`, or their merge), `parts` what each stage holds
    /// of it (`PipelineLayout.parts(_:pruned:)`). A type or values the files cannot hold (`ModelExport.checkRange`, on
    /// each stage's own tensors) are refused on every rank before any file is written.
    public init(held: ModelWeights, parts: [ModelPart], layout: PipelineLayout, tokenizer: TokenizerSpec?, directory: String,
                format: ModelExport.Format, type: GGUFWriter.MatrixType, importance: [String: [Float]] = [:],
                exactWidths: Bool = false, split: SplitSize? = nil, singleGGUF: Bool = false,
                communicator: any Communicator) throws {
        try ModelExport.check(format: format, type: type, file: directory)
        let config = held.config
        if format != .safetensors, config.architecture.ggufWriteName(config) == nil {
            throw ModelExport.noLlamaCppLoader(config, file: directory)
        }
        let stage = layout.replica(ofRank: communicator.rank) == 0 ? layout.stage(ofRank: communicator.rank) : nil
        let writes = stage.map { parts[$0] }
        let heldTensors = Dictionary(uniqueKeysWithValues: held.namedTensors().map { ($0.name, $0.tensor) })
        var tensors: [String: Tensor] = [:], owners: [String: Int] = [:]
        for (name, shape) in ModelWeights.expectedShapes(config) {
            tensors[name] = writes?.writes(name, config: config) == true ? heldTensors[name] : Tensor(absent: shape)
            owners[name] = parts.firstIndex { $0.writes(name, config: config) }
        }
        let view = try ModelWeights(config: config, tensors: tensors, file: directory)
        self.view = view
        self.stage = stage
        self.owners = owners
        self.directory = directory
        self.format = format
        self.tokenizer = tokenizer
        self.singleGGUF = singleGGUF
        self.split = split
        self.communicator = communicator

        var refusal: Error?
        do {
            try ModelExport.checkRange(view, format: format, type: type, file: directory, hasImportance: !importance.isEmpty)
        } catch {
            refusal = error
        }
        var refused = [Double](repeating: 0, count: communicator.size)
        if refusal != nil { refused[communicator.rank] = 1 }
        communicator.allreduceSum(&refused)
        if let refusal { throw refusal }
        if let rank = refused.firstIndex(where: { $0 > 0 }) {
            throw MopError(file: directory, "rank \(rank) refused its stage's part of the export (its error says why)")
        }

        let dtype = ModelExport.safetensorsDType(type)
        safetensors = format == .gguf ? [] : try HFModelDirectory.safetensorsTensors(view, dtype: dtype, directory: directory)
        configData = format == .gguf || !communicator.isCoordinator ? nil : try HFConfig.encode(
            config, specialTokens: ModelExport.specialTokens(tokenizer), dtype: dtype)
        let multiple = ModelExport.paddingMultiple(type: type, exactWidths: exactWidths)
        gguf = format == .safetensors ? nil : try GGUFWriter.prepare(
            weights: view, tokenizer: tokenizer, file: directory + "/" + ModelExport.ggufFile, type: type,
            importance: ModelExport.padded(importance, toMultipleOf: multiple), padFeedForwardTo: multiple)
    }

    /// Writes every rank's files (a collective): `structure` (rank 0's, to structure.json), the Hugging Face folder,
    /// then the GGUF. Returns when every file of the export is in place.
    public func write(structure: PruningStructure) throws {
        if communicator.isCoordinator { try structure.write(to: directory + "/" + ModelExport.structureFile) }
        if format != .gguf { try writeHuggingFace() }
        if let gguf { try singleGGUF ? writeSingle(gguf) : writeParts(gguf) }
        communicator.barrier()
    }

    /// The files of tensors `names` (in file order) by stage, cut further by `split`.
    private func cut(_ names: [String], sizes: [Int]) -> [Range<Int>] {
        SplitSize.parts(sizes, owners: names.map { owners[$0]! }, split: split)
    }

    /// The indices of `parts` whose tensors this rank writes.
    private func mine(_ parts: [Range<Int>], names: [String]) -> [Int] {
        guard let stage else { return [] }
        return parts.indices.filter { owners[names[parts[$0].lowerBound]] == stage }
    }

    /// Every rank's files in place, or none: each rank writes its own, all wait until every one is complete, then rename.
    private func commitTogether(_ files: [AtomicFileWriter]) throws {
        communicator.barrier()
        for file in files { try file.commit() }
        communicator.barrier()
    }

    private func writeHuggingFace() throws {
        let folder = directory + "/" + ModelExport.huggingFaceFolder
        let names = safetensors.map(\.name), parts = cut(names, sizes: safetensors.map(\.bytes))
        let writing = mine(parts, names: names)
        if !writing.isEmpty || communicator.isCoordinator { try DirectoryCreation.create(folder) }
        try commitTogether(try HFModelDirectory.beginShards(safetensors, parts: parts, writing: writing, in: folder))
        guard communicator.isCoordinator, let configData else { return }
        try HFModelDirectory.writeIndex(safetensors, parts: parts, in: folder)
        try HFModelDirectory.writeConfig(configData, in: folder)
        if let tokenizer { try HFModelDirectory.writeTokenizer(tokenizer, maxPositions: view.config.maxPositions, to: folder) }
    }

    private func writeParts(_ gguf: GGUFExport) throws {
        let parts = cut(gguf.hfNames, sizes: gguf.alignedSizes), writing = mine(parts, names: gguf.hfNames)
        if !writing.isEmpty { try DirectoryCreation.create(directory) }
        try commitTogether(try gguf.begin(to: directory + "/" + ModelExport.ggufFile, parts: parts, writing: writing))
    }

    /// Rank 0 writes the file, its own stage's tensors encoded here and the others' as their stages send them, a panel
    /// of rows at a time in file order; each other stage of the first replica sends its tensors' panels.
    private func writeSingle(_ gguf: GGUFExport) throws {
        let path = directory + "/" + ModelExport.ggufFile
        guard communicator.isCoordinator else {
            guard let stage else { return communicator.barrier() }
            for (index, name) in gguf.hfNames.enumerated() where owners[name] == stage {
                try gguf.forEachEncodedPanel(index) { communicator.send(Array($0), to: 0, tag: Self.tag) }
            }
            return communicator.barrier()
        }
        let files = try gguf.begin(to: path, parts: [gguf.hfNames.indices], writing: [0]) { index, output in
            // Stage s of the first replica is rank s.
            let owner = owners[gguf.hfNames[index]]!
            guard owner != 0 else { return try gguf.forEachEncodedPanel(index) { try output.append($0) } }
            let expected = gguf.byteCount(index)
            var received = 0
            while received < expected {
                let bytes = communicator.receive(from: owner, tag: Self.tag)
                guard !bytes.isEmpty, received + bytes.count <= expected else {
                    throw MopError(file: path, "rank \(owner) sent \(received + bytes.count) bytes of \(gguf.hfNames[index]), \(expected) expected")
                }
                try output.append(bytes)
                received += bytes.count
            }
        }
        for file in files { try file.commit() }
        communicator.barrier()
    }
}
