import Foundation

/// The key-values of a split GGUF, as llama.cpp's gguf-split writes them and its loader reads them: every part holds
/// `split.no` (u16, from 0), `split.count` (u16) and `split.tensors.count` (i32, the whole model's tensors); the first
/// part also holds all the model's metadata, and llama.cpp finds the others from its name (`<prefix>-0000k-of-0000n.gguf`).
/// mop adds `split.mop.model` (u64, a fingerprint of the whole model's metadata and tensor directory) to every part,
/// so a part of another model is refused even where the counts agree.
public enum GGUFSplitKeys {
    public static let number = "split.no"
    public static let count = "split.count"
    public static let tensorCount = "split.tensors.count"
    public static let model = "split.mop.model"

    /// The GGUF a single file `name` in `directory` stands for: the file itself, or when it is absent the first part
    /// of a split GGUF written in its place (`<stem>-00001-of-0000n.gguf`); nil when neither exists.
    public static func file(named name: String, in directory: String) -> String? {
        let single = (directory as NSString).appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: single) { return single }
        let prefix = SplitSize.partName(name, extension: "gguf", index: 0, of: 1).dropLast("00001.gguf".count)
        let first = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted().first {
            $0.hasPrefix(prefix) && $0.hasSuffix(".gguf") && $0.count == prefix.count + "00001.gguf".count
        }
        return first.map { (directory as NSString).appendingPathComponent($0) }
    }

    static func values(part: Int, of count: Int, tensors: Int, model: UInt64) -> [(key: String, value: GGUFValue)] {
        [(number, .uint16(UInt16(part))), (self.count, .uint16(UInt16(count))), (tensorCount, .int32(Int32(tensors))),
         (self.model, .uint64(model))]
    }

    /// The fingerprint of the unsplit file's header: the same for every part of one export.
    static func identity(metadata: [(key: String, value: GGUFValue)], tensors: [(name: String, shape: [Int], type: GGUFTensorType)]) -> UInt64 {
        var print = Fingerprint()
        print.absorb(GGUFFileWriter.header(metadata: metadata, tensors: tensors))
        return print.finish()
    }

    /// The parts after the first of the split GGUF whose first part is at `path` with `metadata` (nil when it is a single file), each
    /// checked to be the part its name says of the same model: a missing part, a part of another split or model, or
    /// a first part that is not named as one are refused naming the file.
    static func otherParts(of path: String, metadata: [String: GGUFValue]) throws -> [GGUFFile]? {
        guard let countValue = metadata[count] else { return nil }
        guard let parts = countValue.int, parts >= 1, parts <= Int(UInt16.max) else {
            throw MopError(file: path, "\(count) \(countValue.summary) is not a part count")
        }
        guard parts > 1 else { return nil }
        let index = metadata[number]?.int ?? 0
        let directory = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let suffix = SplitSize.partName("", extension: "gguf", index: index, of: parts)
        guard name.hasSuffix(suffix), name.count > suffix.count else {
            throw MopError(file: path, "\(count) is \(parts) but the file is not named <prefix>\(suffix), so its other parts cannot be found")
        }
        let stem = String(name.dropLast(suffix.count))
        func partPath(_ index: Int) -> String {
            (directory as NSString).appendingPathComponent(SplitSize.partName(stem + ".gguf", extension: "gguf", index: index, of: parts))
        }
        guard index == 0 else {
            throw MopError(file: path, "part \(index + 1) of \(parts) of a split GGUF: give its first part, \(partPath(0))")
        }
        let tensors = metadata[tensorCount]?.int, model = metadata[self.model]
        return try (1..<parts).map { index in
            let partPath = partPath(index)
            guard FileManager.default.fileExists(atPath: partPath) else {
                throw MopError(file: partPath, "part \(index + 1) of \(parts) of the split GGUF \(name) is missing")
            }
            let part = try GGUFFile(file: MappedFile(path: partPath), joiningParts: false)
            let said = (part.metadata[number]?.int, part.metadata[count]?.int, part.metadata[tensorCount]?.int)
            guard said.0 == index, said.1 == parts, said.2 == tensors, part.metadata[self.model] == model else {
                throw MopError(file: partPath, "not part \(index + 1) of \(parts) of the model in \(name) (\(number) \(said.0.map(String.init) ?? "missing"), \(count) \(said.1.map(String.init) ?? "missing"), \(tensorCount) \(said.2.map(String.init) ?? "missing"), \(self.model) \(part.metadata[self.model]?.summary ?? "missing"); the first part says \(tensors.map(String.init) ?? "missing") tensors, model \(model?.summary ?? "missing")): parts of different models or exports")
            }
            return part
        }
    }
}
