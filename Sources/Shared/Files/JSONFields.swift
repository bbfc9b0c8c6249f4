import Foundation

/// Typed, checked access to the fields of a JSON object, for configuration files. Every failure is a `MopError`
/// naming the file and the key: a missing key, a wrong type (a string where a number belongs), a number out of range.
/// JSON `null` counts as absent.
public struct JSONFields {
    public let file: String
    public let object: [String: Any]
    /// Prefix for keys in messages, so a nested object's keys read as `rope_scaling.factor`.
    let context: String

    /// Parses `data` as a JSON object.
    public init(data: Data, file: String) throws {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw MopError(file: file, "not valid JSON")
        }
        guard let object = json as? [String: Any] else { throw MopError(file: file, "not a JSON object") }
        self.init(object: object, file: file, context: "")
    }

    init(object: [String: Any], file: String, context: String) {
        self.object = object
        self.file = file
        self.context = context
    }

    private func fail(_ key: String, _ problem: String) -> MopError {
        MopError(file: file, "key \(context)\(key) \(problem)")
    }

    private func value(_ key: String) -> Any? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    /// True for a JSON `true`/`false`. `is Bool` cannot tell: on Linux a parsed 0 or 1 also casts to Bool.
    static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return type(of: number) == type(of: NSNumber(value: true))
    }

    private func describe(_ value: Any) -> String {
        if Self.isBoolean(value) { return "a boolean" }
        return switch value {
        case is String: "a string"
        case is [Any]: "an array"
        case is [String: Any]: "an object"
        default: "\(value)"
        }
    }

    /// An integer in `range`, or nil when absent.
    public func optionalInt(_ key: String, in range: ClosedRange<Int> = 0...Int.max) throws -> Int? {
        guard let value = value(key) else { return nil }
        return try integer(value, key: key, in: range)
    }

    /// An integer in `range`.
    public func int(_ key: String, in range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        guard let result = try optionalInt(key, in: range) else { throw fail(key, "is missing") }
        return result
    }

    private func integer(_ value: Any, key: String, in range: ClosedRange<Int>) throws -> Int {
        guard !Self.isBoolean(value), let number = value as? Int else { throw fail(key, "must be an integer, found \(describe(value))") }
        guard range.contains(number) else { throw fail(key, "= \(number) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return number
    }

    /// An array of integers in `range`, or nil when absent; `count`, when given, is the required length.
    public func optionalIntArray(_ key: String, in range: ClosedRange<Int> = 0...Int.max, count: Int? = nil) throws -> [Int]? {
        guard let value = value(key) else { return nil }
        guard let array = value as? [Any] else { throw fail(key, "must be an array of integers, found \(describe(value))") }
        if let count, array.count != count { throw fail(key, "has \(array.count) entries, expected \(count)") }
        return try array.map { try integer($0, key: key, in: range) }
    }

    /// A number, or nil when absent.
    public func optionalDouble(_ key: String) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard !Self.isBoolean(value), let number = value as? Double, number.isFinite else {
            throw fail(key, "must be a number, found \(describe(value))")
        }
        return number
    }

    /// A number.
    public func double(_ key: String) throws -> Double {
        guard let result = try optionalDouble(key) else { throw fail(key, "is missing") }
        return result
    }

    /// A boolean, or nil when absent.
    public func optionalBool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard Self.isBoolean(value), let flag = value as? Bool else { throw fail(key, "must be true or false, found \(describe(value))") }
        return flag
    }

    /// A string, or nil when absent.
    public func optionalString(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value as? String else { throw fail(key, "must be a string, found \(describe(value))") }
        return text
    }

    /// A string.
    public func string(_ key: String) throws -> String {
        guard let result = try optionalString(key) else { throw fail(key, "is missing") }
        return result
    }

    /// A nested object, or nil when absent.
    public func optionalObject(_ key: String) throws -> JSONFields? {
        guard let value = value(key) else { return nil }
        guard let nested = value as? [String: Any] else { throw fail(key, "must be an object, found \(describe(value))") }
        return JSONFields(object: nested, file: file, context: "\(context)\(key).")
    }
}
