import Foundation
import Shared

/// JSON of the coordinator's files (checkpoint.json, report.json): sorted snake_case keys, pretty-printed so the
/// files diff well. Types spell their snake_case keys out, because decoding with `convertFromSnakeCase` would not
/// find keys that are already snake_case (such as `PruningStructure`'s).
enum CoordinatorJSON {
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Only finite numbers are ever stored (the answers are checked), so encoding cannot fail.
        return (try? encoder.encode(value)) ?? Data()
    }

    /// Decodes `data` read from `file`; a failure is a `MopError` naming the file and the first bad key.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw MopError(file: file, describe(error))
        } catch {
            throw MopError(file: file, "cannot be decoded: \(error)")
        }
    }

    /// Writes `data` to `path` atomically.
    static func write(_ data: Data, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.append(data)
        try writer.commit()
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
            let keys = (context.codingPath + (key.map { [$0] } ?? [])).map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let .keyNotFound(key, context): return "key \(path(context, key)) is missing"
        case let .typeMismatch(type, context): return "key \(path(context)) must be \(type)"
        case let .valueNotFound(type, context): return "key \(path(context)) must be \(type), found null"
        case let .dataCorrupted(context):
            return context.codingPath.isEmpty ? "not valid JSON" : "key \(path(context)) is invalid: \(context.debugDescription)"
        @unknown default: return "cannot be decoded"
        }
    }
}
