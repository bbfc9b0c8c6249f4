import Foundation

/// Reading the text inputs (corpora, datasets) with the errors docs/design.md#error-messages asks for. Files saved by
/// other tools may start with a UTF-8 byte order mark and end lines with CRLF: both are accepted wherever text is read.
public enum TextFile {
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The whole file as UTF-8 text, without a leading byte order mark; a missing, empty, non-regular or non-UTF-8
    /// file is an error naming it.
    public static func read(_ path: String) throws -> String {
        let data = try RegularFile.read(path)
        guard !data.isEmpty else { throw MopError(file: path, "the file is empty") }
        return try decode(withoutByteOrderMark(data), source: path)
    }

    /// `bytes` as UTF-8 text, or an error naming `source` (a file, an option), `place` in it ("line 3: ") and the
    /// first invalid byte: the one wording of every UTF-8 check, for files and command-line text alike.
    public static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes, source: String, place: String = "") throws -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var iterator = bytes.makeIterator(), parser = Unicode.UTF8.ForwardParser(), offset = 0
        while case .valid(let scalar) = parser.parseScalar(from: &iterator) { offset += scalar.count }
        let byte = bytes[bytes.index(bytes.startIndex, offsetBy: offset)]
        throw MopError(file: source, place + "not valid UTF-8 (byte 0x" + String(format: "%02X", byte) + " at offset \(offset))")
    }

    /// The lines of a UTF-8 file, numbered from 1, without their LF or CRLF ends. Decoding line by line is exact
    /// (no UTF-8 sequence contains the LF byte) and lets an invalid byte be reported with its line.
    public static func lines(path: String) throws -> [(line: Int, text: String)] {
        let data = withoutByteOrderMark(try RegularFile.read(path))
        return try data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated().map { index, bytes in
            let content = bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes
            return (index + 1, try decode(content, source: path, place: "line \(index + 1): "))
        }
    }

    /// The lines of `text` (split at LF, a CR before it dropped, a leading byte order mark dropped).
    public static func lines(of text: String) -> [String] {
        var bytes = Substring(text).utf8[...]
        if bytes.starts(with: byteOrderMark) { bytes = bytes.dropFirst(3) }
        return bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
    }

    private static func withoutByteOrderMark(_ data: Data) -> Data {
        data.starts(with: byteOrderMark) ? data.dropFirst(3) : data
    }
}
