/// One tensor's entry in a GGUF header.
public struct GGUFTensorInfo: Equatable, Sendable {
    public let name: String
    /// ggml's `ne`: innermost (contiguous) dimension first. A GGUF [576, 192] is the row-major matrix [192, 576].
    public let dimensions: [Int]
    public let type: GGUFTensorType
    /// Absolute offset of the tensor's bytes in the file.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// The row-major (PyTorch) shape: `dimensions` reversed.
    public var shape: [Int] { dimensions.reversed() }
}

/// A parsed GGUF v3 file: its metadata and tensor directory, over a memory map of the whole file.
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
    private let mapped: MappedFile
    private let tensorIndex: [String: Int]

    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read as a little-endian UInt32
    public static let defaultAlignment = 32

    public init(path: String) throws {
        self.path = path
        mapped = try MappedFile(path: path)
        var reader = GGUFHeaderReader(cursor: FileCursor(file: mapped))
        guard try reader.cursor.read(UInt32.self, "magic") == Self.magic else {
            throw MopError(file: path, "not a GGUF file (bad magic)")
        }
        version = try reader.cursor.read(UInt32.self, "version")
        guard version == 3 else { throw MopError(file: path, "unsupported GGUF version \(version) (only version 3 is supported)") }
        let tensorCount = try reader.count(try reader.cursor.read(UInt64.self, "tensor count"), minimumSize: 24, "tensor count")
        let keyCount = try reader.count(try reader.cursor.read(UInt64.self, "metadata count"), minimumSize: 12, "metadata count")

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for index in 0..<keyCount {
            let key = try reader.string("metadata key \(index)")
            let rawType = try reader.cursor.read(UInt32.self, "type of metadata \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw MopError(file: path, "metadata \(key) has unknown value type \(rawType)")
            }
            guard metadata[key] == nil else { throw MopError(file: path, "metadata key \(key) appears twice") }
            metadata[key] = try reader.value(type, "metadata \(key)")
            keys.append(key)
        }
        metadataKeys = keys
        self.metadata = metadata

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.int, a > 0, a & (a - 1) == 0 else {
                throw MopError(file: path, "general.alignment \(value.summary) is not a positive power of two")
            }
            alignment = a
        }
        self.alignment = alignment

        var entries: [(name: String, dimensions: [Int], type: GGUFTensorType, relative: Int)] = []
        for index in 0..<tensorCount {
            let name = try reader.string("name of tensor \(index)")
            let dimensionCount = try reader.cursor.read(UInt32.self, "dimension count of tensor \(name)")
            guard (1...4).contains(dimensionCount) else {
                throw MopError(file: path, "tensor \(name) has \(dimensionCount) dimensions (1 to 4 allowed)")
            }
            var dimensions: [Int] = []
            for _ in 0..<dimensionCount {
                let raw = try reader.cursor.read(UInt64.self, "dimensions of tensor \(name)")
                guard raw > 0, let dimension = Int(exactly: raw) else {
                    throw MopError(file: path, "tensor \(name) has an invalid dimension \(raw)")
                }
                dimensions.append(dimension)
            }
            let rawType = try reader.cursor.read(UInt32.self, "type of tensor \(name)")
            guard let type = GGUFTensorType(rawValue: rawType) else {
                throw MopError(file: path, "tensor \(name) has unknown tensor type id \(rawType)")
            }
            let rawOffset = try reader.cursor.read(UInt64.self, "offset of tensor \(name)")
            guard let relative = Int(exactly: rawOffset) else {
                throw MopError(file: path, "tensor \(name) data offset \(rawOffset) is past the end of the file (\(mapped.count) bytes)")
            }
            guard relative % alignment == 0 else {
                throw MopError(file: path, "tensor \(name) data offset \(rawOffset) is not a multiple of the alignment \(alignment)")
            }
            entries.append((name, dimensions, type, relative))
        }

        // The data section starts at the first aligned offset after the header.
        let headerEnd = reader.cursor.offset
        dataOffset = headerEnd + (alignment - headerEnd % alignment) % alignment

        var tensors: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        for entry in entries {
            let name = entry.name
            var elements = 1
            for dimension in entry.dimensions {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw MopError(file: path, "tensor \(name) dimensions \(entry.dimensions) overflow") }
                elements = product
            }
            guard entry.dimensions[0] % entry.type.blockSize == 0, let bytes = entry.type.byteCount(elements: elements) else {
                let type = entry.type
                throw MopError(file: path, "tensor \(name) row length \(entry.dimensions[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            let (offset, overflow) = dataOffset.addingReportingOverflow(entry.relative)
            guard !overflow, offset <= mapped.count, bytes <= mapped.count - offset else {
                let span = "\(bytes) bytes at data offset \(entry.relative), data section at \(dataOffset)"
                throw MopError(file: path, "tensor \(name) data (\(span)) is past the end of the file (\(mapped.count) bytes)")
            }
            guard tensorIndex[name] == nil else { throw MopError(file: path, "tensor \(name) appears twice") }
            tensorIndex[name] = tensors.count
            tensors.append(GGUFTensorInfo(name: name, dimensions: entry.dimensions, type: entry.type, offset: offset, byteCount: bytes))
        }
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    /// The `general.architecture` string, if present.
    public var architecture: String? { metadata["general.architecture"]?.string }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The tensor's bytes, straight from the map (valid while this file is alive).
    public func rawBytes(of tensor: GGUFTensorInfo) throws -> UnsafeRawBufferPointer {
        try mapped.bytes(at: tensor.offset, length: tensor.byteCount, what: "tensor \(tensor.name) data")
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

    mutating func string(_ what: String) throws -> String {
        let rawLength = try cursor.read(UInt64.self, "length of \(what)")
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
