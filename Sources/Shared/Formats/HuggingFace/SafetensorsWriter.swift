import Foundation

/// Writes fp32 tensors to a safetensors file in F32, F16 or BF16 (rounded to nearest even), in the order given.
public enum SafetensorsWriter {
    /// Writes `tensors` to `path` (through a temporary file renamed into place), with `metadata` as `__metadata__`.
    /// Names must be unique and must not be `__metadata__`.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], dtype: SafetensorsDType,
                             metadata: [String: String] = ["format": "pt"], to path: String) throws {
        try write(tensors.map { ($0.name, $0.tensor, dtype) }, metadata: metadata, to: path)
    }

    /// The same with each tensor's own type.
    public static func write(_ tensors: [(name: String, tensor: Tensor, dtype: SafetensorsDType)],
                             metadata: [String: String] = ["format": "pt"], to path: String) throws {
        try write(tensors.map { (name: $0.name, rows: TensorRows($0.tensor), dtype: $0.dtype) }, metadata: metadata, to: path)
    }

    /// The same from rows made on demand: each tensor decoded, converted and appended a panel of rows at a time, so
    /// the file is written in the memory of one panel whatever the tensors' sizes.
    public static func write(_ tensors: [(name: String, rows: TensorRows, dtype: SafetensorsDType)],
                             metadata: [String: String] = ["format": "pt"], to path: String) throws {
        try begin(tensors, metadata: metadata, to: path).commit()
    }

    /// The same, returned uncommitted: the caller renames it into place (`commit`) once every file of its export is complete.
    public static func begin(_ tensors: [(name: String, rows: TensorRows, dtype: SafetensorsDType)],
                             metadata: [String: String] = ["format": "pt"], to path: String) throws -> AtomicFileWriter {
        let header = try headerBytes(tensors.map { ($0.name, $0.rows.shape, $0.dtype) }, metadata: metadata, path: path)
        let output = try AtomicFileWriter(path: path)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try output.append($0) }
        try output.append(header)

        var scratch: [UInt8] = []
        for (_, rows, dtype) in tensors {
            let panel = rows.panelRows()
            scratch = [UInt8](repeating: 0, count: max(scratch.count, min(rows.rows, panel) * rows.cols * dtype.size))
            try rows.forEachPanel(rows: panel) { values, _ in
                try scratch.withUnsafeMutableBytes { bytes in
                    let target = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<(values.count * dtype.size)])
                    dtype.encode(values, into: target)
                    try output.append(UnsafeRawBufferPointer(target))
                }
            }
        }
        return output
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes so the data section starts aligned.
    static func headerBytes(_ tensors: [(name: String, shape: [Int], dtype: SafetensorsDType)],
                            metadata: [String: String], path: String) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, shape, dtype) in tensors {
            guard name != "__metadata__" else { throw MopError(file: path, "__metadata__ cannot be a tensor name") }
            guard header[name] == nil else { throw MopError(file: path, "tensor name \(name) given twice") }
            let end = offset + shape.reduce(1, *) * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": shape, "data_offsets": [offset, end]] as [String: Any]
            offset = end
        }
        var data = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        data.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - data.count % 8) % 8))
        return data
    }
}
