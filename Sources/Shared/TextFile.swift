import Foundation

/// Reading the text inputs (corpora, datasets) with the errors SPEC 11 asks for.
public enum TextFile {
    /// The whole file as UTF-8 text; a missing, empty or non-UTF-8 file is an error naming it.
    public static func read(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw MopError(file: path, "no such file") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw MopError(file: path, "cannot read: \(error.localizedDescription)")
        }
        guard !data.isEmpty else { throw MopError(file: path, "the file is empty") }
        guard let text = String(data: data, encoding: .utf8) else { throw MopError(file: path, "the file is not valid UTF-8") }
        return text
    }
}
