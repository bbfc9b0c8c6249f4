/// One tensor's entry in a GGUF header.
public struct GGUFTensorInfo: Equatable, Sendable {
    public let name: String
    /// ggml's `ne`: innermost (contiguous) dimension first. A GGUF [576, 192] is the row-major matrix [192, 576].
    public let dimensions: [Int]
    public let type: GGUFTensorType
    /// Absolute offset of the tensor's bytes in its file (`part`).
    public let offset: Int
    public let byteCount: Int
    /// The file of a split GGUF holding the tensor's bytes (0: the first, or the only one).
    public internal(set) var part = 0

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// The row-major (PyTorch) shape: `dimensions` reversed.
    public var shape: [Int] { dimensions.reversed() }
}

/// A parsed GGUF v3 file: its metadata and tensor directory, over a memory map of the whole file; of a split GGUF
/// (its first part, `GGUFSplitKeys`), the whole model: every part mapped and its tensors listed after the first's.
/// Parsing checks every count, length and offset against the file, so tensor bytes can be read without further checks.
public final class GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, 32 when absent.
    public let alignment: Int
    /// Where the data section starts; tensor offsets in the header are relative to it.
    public let dataOffset: Int
    /// The mapped file; stored weight matrices (`StoredMatrix`) read their rows from it.
    let mapped: MappedFile
    /// Every part's mapped file, the first (`mapped`) included: a tensor's bytes are in `parts[tensor.part]`.
    let parts: [MappedFile]
    private let tensorIndex: [String: Int]

    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read as a little-endian UInt32
    public static let defaultAlignment = 32

    /// GGUF's own limits: keys are ASCII of at most 65535 bytes, tensor names at most 64 bytes (llama.cpp's
    /// GGML_MAX_NAME).
    static let maxKeyLength = 65535
    static let maxTensorNameLength = 64

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// `joiningParts`: a split GGUF's first part opens the other parts (`GGUFSplitKeys.otherParts`).
    public init(file mapped: MappedFile, joiningParts: Bool = true) throws {
        let path = mapped.path
        self.path = path
        self.mapped = mapped
        func fail(_ problem: String) -> MopError { MopError(file: path, problem) }
        var reader = GGUFHeaderReader(cursor: FileCursor(file: mapped))
        guard try reader.cursor.read(UInt32.self, "magic") == Self.magic else { throw fail("not a GGUF file (bad magic)") }
        version = try reader.cursor.read(UInt32.self, "version")
        guard version == 3 else { throw fail("unsupported GGUF version \(version) (only version 3 is supported)") }
        let tensorCount = try reader.count(try reader.cursor.read(UInt64.self, "tensor count"), minimumSize: 24, "tensor count")
        let keyCount = try reader.count(try reader.cursor.read(UInt64.self, "metadata count"), minimumSize: 12, "metadata count")

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for index in 0..<keyCount {
            let entry = "metadata entry \(index) (at byte \(reader.cursor.offset))"
            let key = try reader.string("key of \(entry)", maxLength: Self.maxKeyLength)
            // A key is printable ASCII; anything else means the length or the bytes before it are corrupt.
            guard !key.isEmpty, key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw fail("\(entry): key of \(key.utf8.count) bytes is not printable ASCII (corrupt key length?): \(PrintableText.quote(key, limit: 24))")
            }
            let shown = PrintableText.quote(key)
            let rawType = try reader.cursor.read(UInt32.self, "type of metadata \(shown)")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw fail("\(entry): metadata \(shown) has unknown value type \(rawType)")
            }
            guard metadata[key] == nil else { throw fail("\(entry): metadata key \(shown) appears twice") }
            metadata[key] = try reader.value(type, "metadata \(shown)")
            keys.append(key)
        }
        metadataKeys = keys
        self.metadata = metadata

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.int, a > 0, a <= 1 << 20, a & (a - 1) == 0 else {
                throw fail("general.alignment \(value.summary) is not a power of two up to 2^20")
            }
            alignment = a
        }
        self.alignment = alignment

        var entries: [(name: String, dimensions: [Int], type: GGUFTensorType, relative: Int)] = []
        for index in 0..<tensorCount {
            let entry = "tensor entry \(index) (at byte \(reader.cursor.offset))"
            let rawName = try reader.string("name of \(entry)", maxLength: Self.maxTensorNameLength)
            let name = PrintableText.quote(rawName)
            let dimensionCount = try reader.cursor.read(UInt32.self, "dimension count of tensor \(name)")
            guard (1...4).contains(dimensionCount) else {
                throw fail("\(entry): tensor \(name) has \(dimensionCount) dimensions (1 to 4 allowed)")
            }
            var dimensions: [Int] = []
            for _ in 0..<dimensionCount {
                let raw = try reader.cursor.read(UInt64.self, "dimensions of tensor \(name)")
                guard raw > 0, let dimension = Int(exactly: raw) else {
                    throw fail("\(entry): tensor \(name) has an invalid dimension \(raw)")
                }
                dimensions.append(dimension)
            }
            let rawType = try reader.cursor.read(UInt32.self, "type of tensor \(name)")
            guard let type = GGUFTensorType(rawValue: rawType) else {
                throw fail("\(entry): tensor \(name) has unknown tensor type id \(rawType)")
            }
            let rawOffset = try reader.cursor.read(UInt64.self, "offset of tensor \(name)")
            guard let relative = Int(exactly: rawOffset) else {
                throw fail("tensor \(name) data offset \(rawOffset) is past the end of the file (\(mapped.count) bytes)")
            }
            entries.append((rawName, dimensions, type, relative))
        }

        // The data section starts at the first aligned offset after the header.
        dataOffset = CheckedSize.aligned(reader.cursor.offset, to: alignment) ?? Int.max
        var tensors: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        // Tensors are stored back to back in header order, each starting at the next aligned offset (llama.cpp's
        // rule). Checking that catches a wrong alignment or a shifted offset, which would otherwise read every
        // tensor from the wrong bytes.
        var expected = 0
        for entry in entries {
            let name = PrintableText.quote(entry.name), type = entry.type
            guard let elements = CheckedSize.product(entry.dimensions) else {
                throw fail("tensor \(name) dimensions \(entry.dimensions) overflow: the element count exceeds any file")
            }
            guard entry.dimensions[0] % type.blockSize == 0 else {
                throw fail("tensor \(name) row length \(entry.dimensions[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            guard let bytes = type.byteCount(elements: elements), bytes <= mapped.count else {
                throw fail("tensor \(name) dimensions \(entry.dimensions) of \(type.name) take more bytes than the whole file (\(mapped.count) bytes)")
            }
            guard entry.relative % alignment == 0 else {
                throw fail("tensor \(name) data offset \(entry.relative) is not a multiple of the alignment \(alignment)")
            }
            let offset = dataOffset.addingReportingOverflow(entry.relative)
            guard !offset.overflow, offset.partialValue <= mapped.count, bytes <= mapped.count - offset.partialValue else {
                let span = "\(bytes) bytes at data offset \(entry.relative), data section at \(dataOffset)"
                throw fail("tensor \(name) data (\(span)) is past the end of the file (\(mapped.count) bytes)")
            }
            guard entry.relative == expected else {
                throw fail("tensor \(name) data offset \(entry.relative) is not where the previous tensor ends (\(expected), alignment \(alignment)): corrupt offset or alignment")
            }
            guard tensorIndex[entry.name] == nil else { throw fail("tensor \(name) appears twice") }
            tensorIndex[entry.name] = tensors.count
            tensors.append(GGUFTensorInfo(name: entry.name, dimensions: entry.dimensions, type: type, offset: offset.partialValue, byteCount: bytes))
            expected = CheckedSize.aligned(entry.relative + bytes, to: alignment) ?? Int.max
        }
        // The data section ends at the end of the file, up to the last tensor's padding; more bytes after it mean
        // the data section starts later than the header says (a wrong general.alignment).
        if !entries.isEmpty {
            let trailing = mapped.count - dataOffset - min(expected, mapped.count - dataOffset)
            guard trailing < alignment else {
                throw fail("\(trailing) bytes follow the last tensor: the data section does not start at byte \(dataOffset) (is general.alignment \(alignment) right?)")
            }
        }
        var parts = [mapped]
        if joiningParts, let others = try GGUFSplitKeys.otherParts(of: path, metadata: metadata) {
            for other in others {
                for var info in other.tensors {
                    guard tensorIndex[info.name] == nil else {
                        throw MopError(file: other.path, "tensor \(PrintableText.quote(info.name)) is also in an earlier part")
                    }
                    info.part = parts.count
                    tensorIndex[info.name] = tensors.count
                    tensors.append(info)
                }
                parts.append(other.mapped)
            }
            if let count = metadata[GGUFSplitKeys.tensorCount]?.int, count != tensors.count {
                throw fail("\(GGUFSplitKeys.tensorCount) is \(count), the \(parts.count) parts hold \(tensors.count) tensors")
            }
        }
        self.parts = parts
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    /// The `general.architecture` string, if present.
    public var architecture: String? { metadata["general.architecture"]?.string }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The tensor's bytes, straight from the map (valid while this file is alive).
    public func rawBytes(of tensor: GGUFTensorInfo) throws -> UnsafeRawBufferPointer {
        try parts[tensor.part].bytes(at: tensor.offset, length: tensor.byteCount, what: "tensor \(tensor.name) data")
    }

    /// A matrix tensor as `storage` holds it, or nil when it is not a matrix of a decodable type
    /// (`dequantize` then says why).
    public func matrix(_ tensor: GGUFTensorInfo, storage: WeightStorage) -> Tensor? {
        guard tensor.shape.count == 2,
              let matrix = StoredMatrix(source: parts[tensor.part], offset: tensor.offset, type: tensor.type,
                                        rows: tensor.shape[0], columns: tensor.shape[1]) else { return nil }
        return storage.hold(matrix)
    }

    /// The tensor dequantized to Float, in its row-major `shape`.
    public func dequantize(_ tensor: GGUFTensorInfo) throws -> Tensor {
        let raw = try rawBytes(of: tensor)
        do {
            let data = try GGUFDequantize.dequantize(raw, type: tensor.type, count: tensor.elementCount, file: path)
            return Tensor(shape: tensor.shape, data: data)
        } catch let error as MopError {
            throw MopError(file: path, "tensor \(tensor.name): \(error.problem)")
        }
    }
}

/// Reads the sequential parts of a GGUF header: strings, typed values, arrays.
struct GGUFHeaderReader {
    var cursor: FileCursor

    private var path: String { cursor.file.path }

    /// A count read from the file, rejected when even `minimumSize` bytes per item would run past the end,
    /// so a corrupt count can never drive a huge allocation or loop.
    func count(_ raw: UInt64, minimumSize: Int, _ what: String) throws -> Int {
        let remaining = UInt64(max(0, cursor.file.count - cursor.offset))
        guard raw <= remaining / UInt64(max(1, minimumSize)) else {
            throw MopError(file: path, "\(what) \(raw) at byte \(cursor.offset) runs past the end of the file (\(cursor.file.count) bytes)")
        }
        return Int(raw)
    }

    /// A length-prefixed UTF-8 string of at most `maxLength` bytes.
    mutating func string(_ what: String, maxLength: Int = Int.max) throws -> String {
        let rawLength = try cursor.read(UInt64.self, "length of \(what)")
        guard rawLength <= UInt64(maxLength) else {
            throw MopError(file: path, "\(what): length \(rawLength) exceeds \(maxLength) bytes")
        }
        let length = try count(rawLength, minimumSize: 1, "length of \(what)")
        let bytes = try cursor.readBytes(length, what)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw MopError(file: path, "\(what) is not valid UTF-8")
        }
        return string
    }

    mutating func value(_ type: GGUFValueType, _ what: String) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, what))
        case .int8: return .int8(try cursor.read(Int8.self, what))
        case .uint16: return .uint16(try cursor.read(UInt16.self, what))
        case .int16: return .int16(try cursor.read(Int16.self, what))
        case .uint32: return .uint32(try cursor.read(UInt32.self, what))
        case .int32: return .int32(try cursor.read(Int32.self, what))
        case .uint64: return .uint64(try cursor.read(UInt64.self, what))
        case .int64: return .int64(try cursor.read(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try cursor.read(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try cursor.read(UInt64.self, what)))
        case .bool:
            let byte = try cursor.read(UInt8.self, what)
            guard byte <= 1 else { throw MopError(file: path, "\(what) is a bool stored as \(byte)") }
            return .bool(byte == 1)
        case .string: return .string(try string(what))
        case .array:
            let rawElementType = try cursor.read(UInt32.self, "element type of \(what)")
            guard let elementType = GGUFValueType(rawValue: rawElementType), elementType != .array else {
                throw MopError(file: path, "\(what) is an array of unsupported element type \(rawElementType)")
            }
            let rawCount = try cursor.read(UInt64.self, "length of \(what)")
            let n = try count(rawCount, minimumSize: elementType.minimumSize, "array length of \(what)")
            var elements: [GGUFValue] = []
            elements.reserveCapacity(n)
            // Elements share the array's name in errors: formatting an index for each of 50k tokens costs more than parsing them.
            for _ in 0..<n { elements.append(try value(elementType, what)) }
            return .array(elementType, elements)
        }
    }
}
