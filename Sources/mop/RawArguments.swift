import Foundation
import Shared

/// Swift's `CommandLine.arguments` repairs invalid UTF-8 with U+FFFD, so `--prompt` or `--string` given bytes that
/// are not UTF-8 would silently run on another text, while the same bytes in a file are refused. argv's raw bytes
/// are checked once, before parsing, with the file check's wording (`TextFile.decode`).
enum RawArguments {
    /// Ends the process (exit 1, one `mop: error:` line) when an argument is not valid UTF-8.
    static func requireUTF8() {
        do { try check(given) } catch {
            FileHandle.standardError.write(Data("mop: error: \(error)\n".utf8))
            exit(1)
        }
    }

    /// The arguments after the program name, as the bytes the process was given.
    static var given: [[UInt8]] {
        (1..<Int(CommandLine.argc)).map { index in
            guard let argument = CommandLine.unsafeArgv[index] else { return [] }
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(argument).assumingMemoryBound(to: UInt8.self),
                                             count: strlen(argument)))
        }
    }

    /// Throws for the first argument that is not valid UTF-8, named by its option (`--prompt`, from `--prompt X` or
    /// `--prompt=X`) or, for a positional one, by its place; the offset is counted in the value.
    static func check(_ arguments: [[UInt8]]) throws {
        for (index, bytes) in arguments.enumerated() {
            if let equals = bytes.firstIndex(of: UInt8(ascii: "=")), bytes.starts(with: Array("--".utf8)),
               let name = String(validating: bytes[..<equals], as: UTF8.self) {
                _ = try TextFile.decode(bytes[(equals + 1)...], source: name)
            } else if index > 0, arguments[index - 1].starts(with: Array("-".utf8)),
                      let name = String(validating: arguments[index - 1], as: UTF8.self) {
                _ = try TextFile.decode(bytes, source: name)
            } else {
                _ = try TextFile.decode(bytes, source: "argument \(index + 1)")
            }
        }
    }
}
