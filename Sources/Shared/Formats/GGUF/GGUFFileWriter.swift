import Foundation

/// One tensor of a GGUF being written: its name, its fp32 rows (made a panel at a time), the type they are encoded
/// in and the importance that encoder weighs columns by.
struct GGUFTensorData {
    let name: String
    let rows: TensorRows
    let type: GGUFTensorType
    let importance: [Float]?

    /// Bytes of the encoded tensor; `MatrixType.tensorTypes` chose a type whose blocks its rows fill.
    var byteCount: Int { rows.count / type.blockSize * type.blockBytes }
}

/// The GGUF v3 container: header, key-values, tensor infos, then each tensor's data aligned, appended a panel of rows
/// at a time (the rows decoded, encoded into one buffer, written), so a file of any size is written in the memory of
/// one panel. Split into parts as llama.cpp's gguf-split writes them (`GGUFSplitKeys`) when a split size is given.
enum GGUFFileWriter {
    /// Writes `metadata` and `tensors` to `path` through a temporary file renamed into place when complete; with
    /// `split` and more than one part's worth of tensors, to the parts `<stem>-0000k-of-0000n.gguf` beside it instead
    /// (all renamed into place once every part is complete). The paths written, in part order.
    @discardableResult
    static func write(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorData], to path: String,
                      split: SplitSize? = nil) throws -> [String] {
        let parts = split?.parts(tensors.map { aligned($0.byteCount) }) ?? [tensors.indices]
        let outputs = try begin(metadata: metadata, tensors: tensors, parts: parts, writing: Array(parts.indices), to: path)
        for output in outputs { try output.commit() }
        return outputs.map(\.path)
    }

    /// The files `writing` (indices into `parts`) of an export cut into `parts` (ranges of `tensors`, in file order:
    /// one range is the single file `path`, more are the parts gguf-split writes beside it, the first with `metadata`),
    /// written and returned uncommitted: the caller commits them once every file of the export, maybe written by other
    /// ranks, is complete. `data` appends tensor `index`'s bytes (by default its rows encoded here); the writer pads them.
    static func begin(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorData], parts: [Range<Int>],
                      writing: [Int], to path: String,
                      data: ((Int, AtomicFileWriter) throws -> Void)? = nil) throws -> [AtomicFileWriter] {
        let append = data ?? { try appendEncoded(tensors[$0], to: $1) }
        func write(_ metadata: [(key: String, value: GGUFValue)], _ range: Range<Int>, to output: AtomicFileWriter) throws {
            try output.append(header(metadata: metadata, tensors: tensors[range].map { ($0.name, $0.rows.shape, $0.type) }))
            for index in range {
                try append(index, output)
                try output.append([UInt8](repeating: 0, count: aligned(tensors[index].byteCount) - tensors[index].byteCount))
            }
        }
        guard parts.count > 1 else {
            guard writing == [0] else { return [] }
            let output = try AtomicFileWriter(path: path)
            try write(metadata, parts[0], to: output)
            return [output]
        }
        guard parts.count <= Int(UInt16.max) else {
            throw MopError(file: path, "\(parts.count) parts: a split GGUF holds at most \(UInt16.max) (give a larger --split-max-size)")
        }
        let model = GGUFSplitKeys.identity(metadata: metadata, tensors: tensors.map { ($0.name, $0.rows.shape, $0.type) })
        let directory = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        return try writing.map { index in
            let keys = GGUFSplitKeys.values(part: index, of: parts.count, tensors: tensors.count, model: model)
            let part = (directory as NSString).appendingPathComponent(SplitSize.partName(name, extension: "gguf", index: index, of: parts.count))
            let output = try AtomicFileWriter(path: part)
            try write((index == 0 ? metadata : []) + keys, parts[index], to: output)
            return output
        }
    }

    /// Magic, version, counts, key-values and tensor infos, padded to the data section's aligned start.
    static func header(metadata: [(key: String, value: GGUFValue)], tensors: [(name: String, shape: [Int], type: GGUFTensorType)]) -> [UInt8] {
        var header = GGUFByteWriter()
        header.u32(GGUFFile.magic)
        header.u32(3)
        header.u64(UInt64(tensors.count))
        header.u64(UInt64(metadata.count))
        for (key, value) in metadata {
            header.string(key)
            header.u32(value.type.rawValue)
            header.value(value)
        }
        var relative = 0
        for tensor in tensors {
            header.string(tensor.name)
            header.u32(UInt32(tensor.shape.count))
            for dimension in tensor.shape.reversed() { header.u64(UInt64(dimension)) }
            header.u32(tensor.type.rawValue)
            header.u64(UInt64(relative))
            relative = aligned(relative + tensor.shape.reduce(1, *) / tensor.type.blockSize * tensor.type.blockBytes)
        }
        header.pad(to: aligned(header.bytes.count))
        return header.bytes
    }

    /// The tensor's bytes, a panel of whole rows (so whole blocks) at a time: `body` gets each panel's encoding, valid
    /// during the call.
    static func forEachEncodedPanel(_ tensor: GGUFTensorData, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let rows = tensor.rows, rowBytes = tensor.byteCount / max(1, rows.rows), panel = rows.panelRows()
        var encoded = [UInt8](repeating: 0, count: panel * rowBytes)
        try rows.forEachPanel(rows: panel) { values, _ in
            let bytes = values.count / rows.cols * rowBytes
            try encoded.withUnsafeMutableBytes { buffer in
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes])
                GGUFQuantize.encode(values, as: tensor.type, columns: rows.cols, importance: tensor.importance, into: target)
                try body(UnsafeRawBufferPointer(target))
            }
        }
    }

    private static func appendEncoded(_ tensor: GGUFTensorData, to output: AtomicFileWriter) throws {
        try forEachEncodedPanel(tensor) { try output.append($0) }
    }

    static func aligned(_ offset: Int) -> Int {
        let a = GGUFFile.defaultAlignment
        return (offset + a - 1) / a * a
    }
}
