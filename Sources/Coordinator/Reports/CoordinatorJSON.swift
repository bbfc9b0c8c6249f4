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
        } catch let error as MopError where error.file == nil {
            // A type's own check while decoding (a field that parses but means nothing) knows the key, not the file.
            throw MopError(file: file, error.problem)
        } catch {
            throw MopError(file: file, "cannot be decoded: \(error)")
        }
    }

    /// Keys as a reader finds them in the file: `other_paths[1].random_state`.
    static func keyPath(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
            let joined = keyPath(context.codingPath + (key.map { [$0] } ?? []))
            return joined.isEmpty ? "the top level" : "key " + joined
        }
        switch error {
        case let .keyNotFound(key, context): return "\(path(context, key)) is missing"
        case let .typeMismatch(type, context): return "\(path(context)) must be \(kind(type))"
        case let .valueNotFound(type, context): return "\(path(context)) must be \(kind(type)), found null"
        case let .dataCorrupted(context):
            // Foundation reports a number that does not fit its field (seed -1) as corrupt data with no key path;
            // only a real syntax error is "not valid JSON".
            if context.codingPath.isEmpty, context.underlyingError != nil { return "not valid JSON" }
            return "\(path(context)) is invalid: \(context.debugDescription)"
        @unknown default: return "cannot be decoded"
        }
    }

    /// "an object", "an integer", ... for a Swift type the decoder expected.
    private static func kind(_ type: Any.Type) -> String {
        switch type {
        case is [String: Any].Type, is [String: any Sendable].Type: return "a JSON object"
        case is [Any].Type: return "a JSON array"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is UInt64.Type, is UInt32.Type, is Int32.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default: return "\(type)"
        }
    }
}
