import Foundation

/// The rows of an image-text calibration file (docs/formats.md#calibration): JSONL whose rows name an `image` (a path
/// relative to the JSONL file's folder, or absolute) and give the prompt in one of three forms, recognised by its
/// field: `conversations` (LLaVA-Instruct's rows: the first human turn in LLaVA-1.5's `USER: ... ASSISTANT:`),
/// `instruction` with optional `input` (the AMP template, `<image>` starting the instruction) or `text` (verbatim).
/// Every prompt must hold exactly one `<image>`, where the image's features go.
enum ImageCalibrationRows {
    static let marker = "<image>"

    /// One row: its image file, resolved, and its prompt text.
    struct Row {
        let line: Int
        let image: String
        let prompt: String
    }

    /// Whether the first row of the JSONL file at `path` names an image.
    static func holdsImages(_ path: String) throws -> Bool {
        guard path.hasSuffix(".jsonl") else { return false }
        return try CalibrationData.jsonlRows(path: path).first?.object["image"] != nil
    }

    /// Every row of the file, in order: each must name an image and give one prompt form.
    static func rows(path: String) throws -> [Row] {
        let folder = (path as NSString).deletingLastPathComponent
        return try CalibrationData.jsonlRows(path: path).map { row in
            let image = try row.string("image")
            guard !image.isEmpty else { throw MopError(file: path, "line \(row.line): field \"image\" is empty") }
            let resolved = image.hasPrefix("/") ? image : (folder as NSString).appendingPathComponent(image)
            let prompt = try self.prompt(of: row)
            let markers = prompt.components(separatedBy: marker).count - 1
            guard markers == 1 else {
                throw MopError(file: path, "line \(row.line): the prompt holds \(markers) \(marker) markers; an image row needs exactly one, where its image goes")
            }
            return Row(line: row.line, image: resolved, prompt: prompt)
        }
    }

    /// The row's prompt in the form its fields give.
    private static func prompt(of row: CalibrationData.Row) throws -> String {
        let forms = ["conversations", "instruction", "text"].filter { row.object[$0] != nil }
        guard forms.count == 1 else {
            throw MopError(file: row.file, "line \(row.line): an image row gives its prompt in one of \"conversations\", \"instruction\" or \"text\"; it has \(forms.isEmpty ? "none" : forms.joined(separator: " and "))")
        }
        switch forms[0] {
        case "conversations":
            guard let turns = row.object["conversations"] as? [[String: Any]], let first = turns.first,
                  first["from"] as? String == "human", let value = first["value"] as? String else {
                throw MopError(file: row.file, "line \(row.line): \"conversations\" must start with a {\"from\": \"human\", \"value\": ...} turn")
            }
            return llavaPrompt(value)
        case "instruction":
            let instruction = try row.string("instruction")
            return CalibrationData.alpacaPrompt(instruction: marker + "\n" + instruction, input: try row.optionalString("input") ?? "")
        default:
            return try row.string("text")
        }
    }

    /// LLaVA-1.5's single-turn prompt (llava-hf's chat template): `USER: {text} ASSISTANT:`.
    static func llavaPrompt(_ text: String) -> String { "USER: " + text + " ASSISTANT:" }
}
