/// Parts of a JSON document (tokenizer.json's `model.vocab` and `model.merges`) with their strings exactly as written.
/// Foundation's JSON parsing holds objects as Swift dictionaries, whose String keys compare by Unicode canonical
/// equivalence, so two vocabulary entries such as "ί" (U+03AF) and "ί" (U+1F77), both in LLaMA's vocabulary, would
/// become one; and it drops a U+FEFF written raw at the start of a string (Gemma has a piece "\u{FEFF}" and merges
/// with it). A small scanner over the bytes: it expects a document that has already parsed as JSON, but any surprise
/// is an error naming `file`, never a crash.
public enum JSONExactReader {
    /// The key and value of each member of the object reached from the top-level object by the keys of `path`, in
    /// document order, the value nil when it is not an integer; nil when a key of the path is missing or does not
    /// lead to an object.
    public static func integerMembers(_ bytes: [UInt8], path: [String], file: String) throws
        -> [(key: String, value: Int?)]? {
        var scanner = Scanner(bytes: bytes, file: file)
        guard try scanner.enter(path, opening: UInt8(ascii: "{")) else { return nil }
        return try scanner.integerMembers()
    }

    /// The items of the array reached by `path`, each a string (one element) or an array of strings, nil for an item
    /// of any other kind; nil when a key of the path is missing or does not lead to an array.
    public static func stringLists(_ bytes: [UInt8], path: [String], file: String) throws -> [[String]?]? {
        var scanner = Scanner(bytes: bytes, file: file)
        guard try scanner.enter(path, opening: UInt8(ascii: "[")) else { return nil }
        return try scanner.stringLists()
    }

    private struct Scanner {
        let bytes: [UInt8]
        let file: String
        var offset = 0

        init(bytes: [UInt8], file: String) {
            self.bytes = bytes
            self.file = file
        }

        func fail(_ what: String) -> MopError {
            MopError(file: file, "malformed JSON at byte \(offset): \(what)")
        }

        mutating func skipSpace() {
            while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
        }

        /// Consumes `byte` after any whitespace, returning whether it was there.
        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard offset < bytes.count, bytes[offset] == byte else { return false }
            offset += 1
            return true
        }

        /// Moves to the value `path` leads to from the top-level object, when it starts with `opening`.
        mutating func enter(_ path: [String], opening: UInt8) throws -> Bool {
            for key in path {
                guard try enterMember(named: key) else { return false }
            }
            skipSpace()
            return offset < bytes.count && bytes[offset] == opening
        }

        /// Moves to the value of the member `name` of the object at the current position.
        mutating func enterMember(named name: String) throws -> Bool {
            guard take(UInt8(ascii: "{")) else { return false }
            if take(UInt8(ascii: "}")) { return false }
            repeat {
                let key = try string()
                guard take(UInt8(ascii: ":")) else { throw fail("expected ':'") }
                skipSpace()
                if key.unicodeScalars.elementsEqual(name.unicodeScalars) { return true }
                try skipValue(depth: 0)
            } while take(UInt8(ascii: ","))
            return false
        }

        mutating func integerMembers() throws -> [(key: String, value: Int?)] {
            guard take(UInt8(ascii: "{")) else { throw fail("expected an object") }
            var members: [(key: String, value: Int?)] = []
            if take(UInt8(ascii: "}")) { return members }
            repeat {
                let key = try string()
                guard take(UInt8(ascii: ":")) else { throw fail("expected ':'") }
                skipSpace()
                let start = offset
                try skipValue(depth: 0)
                members.append((key, Int(String(decoding: bytes[start..<offset], as: UTF8.self))))
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")) else { throw fail("expected '}'") }
            return members
        }

        mutating func stringLists() throws -> [[String]?] {
            guard take(UInt8(ascii: "[")) else { throw fail("expected an array") }
            var items: [[String]?] = []
            if take(UInt8(ascii: "]")) { return items }
            repeat {
                skipSpace()
                let start = offset
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") {
                    items.append([try string()])
                } else if take(UInt8(ascii: "[")) {
                    var strings: [String] = []
                    var allStrings = true
                    if !take(UInt8(ascii: "]")) {
                        repeat {
                            skipSpace()
                            if offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") {
                                strings.append(try string())
                            } else {
                                allStrings = false
                                try skipValue(depth: 1)
                            }
                        } while take(UInt8(ascii: ","))
                        guard take(UInt8(ascii: "]")) else { throw fail("expected ']'") }
                    }
                    items.append(allStrings ? strings : nil)
                } else {
                    offset = start
                    try skipValue(depth: 0)
                    items.append(nil)
                }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "]")) else { throw fail("expected ']'") }
            return items
        }

        /// A string literal, escapes decoded.
        mutating func string() throws -> String {
            guard take(UInt8(ascii: "\"")) else { throw fail("expected a string") }
            var out: [UInt8] = []
            while offset < bytes.count {
                let byte = bytes[offset]
                offset += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard offset < bytes.count else { throw fail("unterminated escape") }
                    let escape = bytes[offset]
                    offset += 1
                    switch escape {
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var unit = try hex4()
                        if (0xD800..<0xDC00).contains(unit), offset + 1 < bytes.count,
                           bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") {
                            offset += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                            unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(unit) else { throw fail("unpaired surrogate") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: out.append(escape)
                    }
                default:
                    out.append(byte)
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard offset + 4 <= bytes.count,
                  let value = UInt32(String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self), radix: 16) else {
                throw fail("bad \\u escape")
            }
            offset += 4
            return value
        }

        /// Skips one value of any kind; `depth` bounds the nesting.
        mutating func skipValue(depth: Int) throws {
            guard depth < 512 else { throw fail("nested too deeply") }
            skipSpace()
            guard offset < bytes.count else { throw fail("expected a value") }
            switch bytes[offset] {
            case UInt8(ascii: "\""):
                _ = try string()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = bytes[offset] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                let isObject = close == UInt8(ascii: "}")
                offset += 1
                if take(close) { return }
                repeat {
                    if isObject {
                        _ = try string()
                        guard take(UInt8(ascii: ":")) else { throw fail("expected ':'") }
                    }
                    try skipValue(depth: depth + 1)
                } while take(UInt8(ascii: ","))
                guard take(close) else { throw fail("expected a closing bracket") }
            default:
                // A number or a literal: up to the next delimiter.
                let start = offset
                while offset < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A,
                                              0x0D].contains(bytes[offset]) { offset += 1 }
                guard offset > start else { throw fail("expected a value") }
            }
        }
    }
}
