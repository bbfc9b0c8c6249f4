/// Text taken from a file for an error message. A corrupt file can put any bytes where a name belongs (control
/// characters, terminal escapes, megabytes of garbage), so a message shows only printable characters, escapes the
/// rest, and caps the length.
public enum PrintableText {
    public static let defaultLimit = 60

    /// Otherwise `text` quoted, with control and other non-printable characters as `\u{..}`, cut to `limit` characters.
    /// Plain names (printable ASCII without spaces, quotes or backslashes, within `limit`) are shown as they are.
    public static func quote(_ text: some StringProtocol, limit: Int = defaultLimit) -> String {
        if !text.isEmpty, text.utf8.count <= limit,
           text.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return String(text)
        }
        var shown = ""
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < limit else { return "\"\(shown)\"... (\(text.utf8.count) bytes)" }
            let printable = scalar.properties.generalCategory != .control && scalar.properties.generalCategory != .format
                && scalar.properties.generalCategory != .unassigned && scalar.properties.generalCategory != .lineSeparator
                && scalar.properties.generalCategory != .paragraphSeparator && scalar != "\"" && scalar != "\\"
            shown += printable ? String(scalar) : scalar.escaped(asASCII: true)
            count += 1
        }
        return "\"\(shown)\""
    }
}
