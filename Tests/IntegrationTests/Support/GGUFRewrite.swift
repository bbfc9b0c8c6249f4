import Foundation
@testable import Shared

/// Rewrites a GGUF file with some metadata values replaced (of any type) and the tensor table and data kept byte
/// for byte: the hostile-input tests' "one metadata value rewritten".
enum GGUFRewrite {
    static func rewrite(_ path: String, to output: String, set changes: [String: GGUFValue], alignment: Int? = nil) throws {
        let file = try GGUFFile(path: path)
        var metadata = file.metadataKeys.map { ($0, file.metadata[$0]!) }
        for (key, value) in changes {
            if let index = metadata.firstIndex(where: { $0.0 == key }) { metadata[index].1 = value } else { metadata.append((key, value)) }
        }
        var header = GGUFByteWriter()
        header.u32(GGUFFile.magic)
        header.u32(3)
        header.u64(UInt64(file.tensors.count))
        header.u64(UInt64(metadata.count))
        for (key, value) in metadata {
            header.string(key)
            header.u32(value.type.rawValue)
            header.value(value)
        }
        for tensor in file.tensors {
            header.string(tensor.name)
            header.u32(UInt32(tensor.dimensions.count))
            tensor.dimensions.forEach { header.u64(UInt64($0)) }
            header.u32(tensor.type.rawValue)
            header.u64(UInt64(tensor.offset - file.dataOffset))
        }
        // Padded with the file's real alignment, whatever general.alignment now says.
        let padTo = alignment ?? file.alignment
        header.pad(to: (header.bytes.count + padTo - 1) / padTo * padTo)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try (Data(header.bytes) + data[file.dataOffset...]).write(to: URL(fileURLWithPath: output))
    }
}
