import Foundation

/// JSON text of a value `JSONSerialization` parsed (objects, arrays, strings, numbers, booleans, null) that keeps each
/// number's kind: a float stays a float (`1.0`), where `JSONSerialization` writes `1`, which transformers 5's strictly
/// typed configs refuse (`initializer_factor` expected float, got int). Keys sorted, two-space indentation.
enum JSONTextWriter {
    static func data(_ value: Any, file: String) throws -> Data {
        var text = ""
        try write(value, indent: "", into: &text, file: file)
        return Data((text + "\n").utf8)
    }

    private static func write(_ value: Any, indent: String, into text: inout String, file: String) throws {
        let inner = indent + "  "
        switch value {
        case let object as [String: Any]:
            guard !object.isEmpty else { text += "{}"; return }
            text += "{\n"
            for (index, key) in object.keys.sorted().enumerated() {
                text += inner + quoted(key) + ": "
                try write(object[key]!, indent: inner, into: &text, file: file)
                text += index == object.count - 1 ? "\n" : ",\n"
            }
            text += indent + "}"
        case let array as [Any]:
            guard !array.isEmpty else { text += "[]"; return }
            text += "[\n"
            for (index, element) in array.enumerated() {
                text += inner
                try write(element, indent: inner, into: &text, file: file)
                text += index == array.count - 1 ? "\n" : ",\n"
            }
            text += indent + "]"
        case let string as String:
            text += quoted(string)
        case is NSNull:
            text += "null"
        case let number as NSNumber:
            if JSONFields.isBoolean(number) {
                text += number.boolValue ? "true" : "false"
            } else if ["d", "f"].contains(String(cString: number.objCType)) {
                let double = number.doubleValue
                guard double.isFinite else { throw MopError(file: file, "cannot write the non-finite number \(double) as JSON") }
                text += double == double.rounded() && abs(double) < 1e15 ? "\(Int64(double)).0" : "\(double)"
            } else {
                text += "\(number.int64Value)"
            }
        default:
            throw MopError(file: file, "cannot write a \(type(of: value)) as JSON")
        }
    }

    /// A JSON string literal (RFC 8259: quote, backslash and control characters escaped).
    static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }
}
