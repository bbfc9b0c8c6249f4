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
        guard parts.count > 1 else {
            let output = try AtomicFileWriter(path: path)
            try write(metadata: metadata, tensors: tensors, to: output)
            try output.commit()
            return [path]
        }
        guard parts.count <= Int(UInt16.max) else {
            throw MopError(file: path, "\(parts.count) parts: a split GGUF holds at most \(UInt16.max) (give a larger --split-max-size)")
        }
        let model = GGUFSplitKeys.identity(metadata: metadata, tensors: tensors.map { ($0.name, $0.rows.shape, $0.type) })
        let directory = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        var outputs: [AtomicFileWriter] = []
        for (index, range) in parts.enumerated() {
            let keys = GGUFSplitKeys.values(part: index, of: parts.count, tensors: tensors.count, model: model)
            let part = (directory as NSString).appendingPathComponent(SplitSize.partName(name, extension: "gguf", index: index, of: parts.count))
            let output = try AtomicFileWriter(path: part)
            try write(metadata: (index == 0 ? metadata : []) + keys, tensors: Array(tensors[range]), to: output)
            outputs.append(output)
        }
        for output in outputs { try output.commit() }
        return outputs.map(\.path)
    }

    private static func write(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorData], to output: AtomicFileWriter) throws {
        try output.append(header(metadata: metadata, tensors: tensors.map { ($0.name, $0.rows.shape, $0.type) }))
        for tensor in tensors {
            try append(tensor, to: output)
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

    /// The tensor's bytes, a panel of whole rows (so whole blocks) at a time, then zeros to the next aligned offset.
    private static func append(_ tensor: GGUFTensorData, to output: AtomicFileWriter) throws {
        let rows = tensor.rows, rowBytes = tensor.byteCount / max(1, rows.rows), panel = rows.panelRows()
        var encoded = [UInt8](repeating: 0, count: panel * rowBytes)
        try rows.forEachPanel(rows: panel) { values, _ in
            let bytes = values.count / rows.cols * rowBytes
            try encoded.withUnsafeMutableBytes { buffer in
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes])
                GGUFQuantize.encode(values, as: tensor.type, columns: rows.cols, importance: tensor.importance, into: target)
                try output.append(UnsafeRawBufferPointer(target))
            }
        }
        try output.append([UInt8](repeating: 0, count: aligned(tensor.byteCount) - tensor.byteCount))
    }

    static func aligned(_ offset: Int) -> Int {
        let a = GGUFFile.defaultAlignment
        return (offset + a - 1) / a * a
    }
}
