import Foundation

/// One tensor's header record in a safetensors file; `byteRange` is absolute within the file.
public struct SafetensorsEntry: Equatable, Sendable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    public var byteRange: Range<Int>

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var count: Int { byteRange.count / dtype.size }
}

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header naming every tensor's
/// dtype, shape and `data_offsets` (relative to the end of the header), then the raw data. The header is parsed and
/// checked when the file is opened; tensor data is converted to fp32 only when asked for, straight from the map.
public final class SafetensorsFile: Sendable {
    public let path: String
    /// Header records in data order.
    public let entries: [SafetensorsEntry]
    /// The optional `__metadata__` string map (transformers writes `{"format": "pt"}`).
    public let metadata: [String: String]
    private let file: MappedFile
    private let index: [String: Int]

    /// Headers larger than this are refused before they are parsed (the reference implementation allows 100 MB).
    static let maxHeaderLength = 100_000_000

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        let path = file.path
        self.path = path
        self.file = file
        func fail(_ problem: String) -> MopError { MopError(file: path, problem) }

        guard file.count >= 8 else { throw fail("truncated safetensors file: \(file.count) bytes, too short for the 8-byte header length") }
        let declared = try file.load(UInt64.self, at: 0, what: "header length")
        guard declared <= UInt64(file.count - 8) else {
            throw fail("header length \(declared) runs past the end of the file (\(file.count) bytes)")
        }
        let headerLength = Int(declared)
        guard headerLength <= Self.maxHeaderLength else { throw fail("header length \(headerLength) exceeds \(Self.maxHeaderLength) bytes") }
        let dataStart = 8 + headerLength
        let dataLength = file.count - dataStart
        let headerBytes = try file.bytes(at: 8, length: headerLength, what: "header")

        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes))
        } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [SafetensorsEntry] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not a JSON object") }
                for (key, item) in map {
                    guard let text = item as? String else { throw fail("__metadata__ value for \(key) is not a string") }
                    metadata[key] = text
                }
                continue
            }
            entries.append(try Self.parseEntry(name: name, value: value, dataStart: dataStart, dataLength: dataLength, fail: fail))
        }
        entries.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        // As the reference implementation requires, tensors tile the data section exactly: a header length that is
        // off by a few bytes still parses as JSON, but would shift every tensor onto the wrong bytes.
        var end = dataStart
        for entry in entries {
            guard entry.byteRange.lowerBound == end else {
                let problem = entry.byteRange.lowerBound < end ? "overlaps the tensor before it" : "leaves a gap before it"
                throw fail("tensor \(PrintableText.quote(entry.name)) at data offset \(entry.byteRange.lowerBound - dataStart) \(problem) (expected \(end - dataStart))")
            }
            end = entry.byteRange.upperBound
        }
        guard end == file.count else {
            throw fail("the tensors end at byte \(end) but the file has \(file.count) bytes: the header length \(headerLength) or the offsets are wrong")
        }
        self.entries = entries
        self.metadata = metadata
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    /// Checks one header record against the data section [dataStart, dataStart + dataLength).
    private static func parseEntry(name: String, value: Any, dataStart: Int, dataLength: Int,
                                   fail: (String) -> MopError) throws -> SafetensorsEntry {
        guard let record = value as? [String: Any] else { throw fail("header entry for tensor \(name) is not a JSON object") }
        guard let dtypeName = record["dtype"] as? String else { throw fail("tensor \(name) has no dtype string") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            let supported = SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("unsupported dtype \(dtypeName) for tensor \(name) (supported: \(supported))")
        }
        guard let shape = nonNegativeInts(record["shape"]) else { throw fail("tensor \(name) has no shape array of non-negative integers") }
        guard let offsets = nonNegativeInts(record["data_offsets"]), offsets.count == 2 else {
            throw fail("tensor \(name) has no data_offsets pair of non-negative integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw fail("tensor \(name) has data_offsets [\(begin), \(end)] that run backwards") }
        guard end <= dataLength else {
            throw fail("tensor \(name) has data_offsets [\(begin), \(end)] past the end of the data section (\(dataLength) bytes)")
        }
        var bytes = dtype.size
        for dimension in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("tensor \(name) has shape \(shape), too large to address") }
            bytes = product
        }
        guard bytes == end - begin else {
            throw fail("tensor \(name) has shape \(shape) of \(dtypeName), \(bytes) bytes, but data_offsets [\(begin), \(end)] span \(end - begin) bytes")
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: (dataStart + begin)..<(dataStart + end))
    }

    /// A JSON array of non-negative integers (booleans and fractions refused), or nil.
    private static func nonNegativeInts(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in array {
            guard !JSONFields.isBoolean(item), let number = item as? Int, number >= 0 else { return nil }
            result.append(number)
        }
        return result
    }

    /// Tensor names in data order.
    public var names: [String] { entries.map(\.name) }

    /// The header record of `name`, or nil when the file has no such tensor.
    public func entry(named name: String) -> SafetensorsEntry? {
        index[name].map { entries[$0] }
    }

    /// The tensor `name` (a matrix held as `storage` says, anything else in fp32), or nil when the file has no
    /// such tensor.
    public func tensor(named name: String, storage: WeightStorage = .fp32) throws -> Tensor? {
        guard let entry = entry(named: name) else { return nil }
        return try tensor(entry, storage: storage)
    }

    /// One entry of this file: a matrix held as `storage` says, anything else converted to fp32.
    public func tensor(_ entry: SafetensorsEntry, storage: WeightStorage = .fp32) throws -> Tensor {
        if entry.shape.count == 2, storage != .fp32,
           let matrix = StoredMatrix(source: file, offset: entry.byteRange.lowerBound, type: entry.dtype.ggufType,
                                     rows: entry.shape[0], columns: entry.shape[1]) {
            return storage.hold(matrix)
        }
        let raw = try file.bytes(at: entry.byteRange.lowerBound, length: entry.byteRange.count, what: "tensor \(entry.name)")
        let data = [Float](unsafeUninitializedCapacity: entry.count) { buffer, initialized in
            entry.dtype.decode(raw, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<entry.count]))
            initialized = entry.count
        }
        return Tensor(shape: entry.shape, data: data)
    }

    /// Every tensor in the file, converted to fp32.
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for entry in entries { result[entry.name] = try tensor(entry) }
        return result
    }

    /// Reads a whole safetensors file into fp32 tensors keyed by name.
    public static func read(path: String) throws -> [String: Tensor] {
        try SafetensorsFile(path: path).tensors()
    }
}
