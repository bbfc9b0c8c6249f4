import Foundation

/// Writes fp32 tensors to a safetensors file in F32, F16 or BF16 (rounded to nearest even), in the order given.
public enum SafetensorsWriter {
    /// Elements converted per write, so a large tensor never needs a second full-size buffer.
    static let chunkElements = 1 << 20

    /// Writes `tensors` to `path` (through a temporary file renamed into place), with `metadata` as `__metadata__`.
    /// Names must be unique and must not be `__metadata__`.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], dtype: SafetensorsDType,
                             metadata: [String: String] = ["format": "pt"], to path: String) throws {
        try write(tensors.map { ($0.name, $0.tensor, dtype) }, metadata: metadata, to: path)
    }

    /// The same with each tensor's own type.
    public static func write(_ tensors: [(name: String, tensor: Tensor, dtype: SafetensorsDType)],
                             metadata: [String: String] = ["format": "pt"], to path: String) throws {
        let header = try headerBytes(tensors, metadata: metadata, path: path)
        let output = try AtomicFileWriter(path: path)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try output.append($0) }
        try output.append(header)

        var scratch = [UInt8](repeating: 0, count: min(chunkElements, tensors.map(\.tensor.count).max() ?? 0) * SafetensorsDType.f32.size)
        for (_, tensor, dtype) in tensors {
            try tensor.data.withUnsafeBufferPointer { values in
                var start = 0
                while start < values.count {
                    let end = min(start + chunkElements, values.count)
                    let byteCount = (end - start) * dtype.size
                    try scratch.withUnsafeMutableBytes { bytes in
                        let target = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<byteCount])
                        dtype.encode(UnsafeBufferPointer(rebasing: values[start..<end]), into: target)
                        try output.append(UnsafeRawBufferPointer(target))
                    }
                    start = end
                }
            }
        }
        try output.commit()
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes so the data section starts aligned.
    static func headerBytes(_ tensors: [(name: String, tensor: Tensor, dtype: SafetensorsDType)],
                            metadata: [String: String], path: String) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, tensor, dtype) in tensors {
            guard name != "__metadata__" else { throw MopError(file: path, "__metadata__ cannot be a tensor name") }
            guard header[name] == nil else { throw MopError(file: path, "tensor name \(name) given twice") }
            let end = offset + tensor.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, end]] as [String: Any]
            offset = end
        }
        var data = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        data.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - data.count % 8) % 8))
        return data
    }
}
