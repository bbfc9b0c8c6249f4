import Foundation

/// The calibration sequences of a pruning run, from any of the accepted files: Alpaca JSONL (one sequence per
/// prompt in the AMP template, docs/design.md#calibration), image-text JSONL (one sequence per row, its image's
/// feature rows in place of its `<image>`: `ImageCalibrationRows`), `{"text": ...}` JSONL or plain text (the token
/// stream cut into windows).
public enum CalibrationSet {
    /// One calibration sequence: its tokens and, for an image row, its image.
    public struct Sequence: Equatable, Sendable {
        public let tokens: [Int32]
        public let image: Image?
    }

    /// An image of a sequence: its file and the positions its features fill (the `<image>` token expanded).
    public struct Image: Equatable, Sendable {
        public let path: String
        public let rows: Range<Int>
    }

    /// How a vision-language model takes an image in its prompts: the token its features replace, repeated `count`
    /// times (one per feature row), and whether `<image>` in the text encodes as that token (else the text around
    /// the marker is encoded piece by piece: `LlavaVision.markedPrompt`).
    public struct ImageTokens: Sendable {
        public let id: Int32
        public let count: Int
        public let markerIsToken: Bool

        public init(id: Int32, count: Int, markerIsToken: Bool) {
            (self.id, self.count, self.markerIsToken) = (id, count, markerIsToken)
        }
    }

    /// `count` sequences of at most `seqLen` tokens: the first ones, or a seeded sample when `seed` is given. `images`
    /// says how the model takes an image (nil: a text-only model, which an image row is refused for). Every image is
    /// decoded here, so a missing or broken one fails before any work, naming the file's row.
    public static func sequences(path: String, tokenizer: any Tokenizer, count: Int, seqLen: Int, seed: UInt64?,
                                 images: ImageTokens? = nil) throws -> [Sequence] {
        if try ImageCalibrationRows.holdsImages(path) {
            let rows = try CalibrationData.select(try ImageCalibrationRows.rows(path: path), count: count, seed: seed, file: path)
            guard let images else {
                throw MopError(file: path, "line \(rows.first?.line ?? 1): an image row, but the model has no vision tower (a LLaVA directory, or a language-model GGUF with --mmproj)")
            }
            return try rows.map { try imageSequence($0, file: path, tokenizer: tokenizer, seqLen: seqLen, images: images) }
        }
        if try isAlpaca(path) {
            let prompts = try CalibrationData.select(try CalibrationData.alpacaPrompts(path: path), count: count,
                                                     seed: seed, file: path)
            return prompts.map { Sequence(tokens: Array(tokenizer.encode($0).prefix(seqLen)), image: nil) }
        }
        let text = try CalibrationData.textDocuments(path: path).joined(separator: "\n\n")
        let windows = CalibrationData.sequences(fromTokens: tokenizer.encode(text), seqLen: seqLen, count: Int.max)
        guard !windows.isEmpty else { throw MopError(file: path, "the text holds too few tokens for one sequence") }
        return try CalibrationData.select(windows, count: count, seed: seed, file: path).map { Sequence(tokens: $0, image: nil) }
    }

    /// Whether the calibration file at `path` holds image rows (which text-only recovery cannot train on).
    public static func holdsImages(_ path: String) throws -> Bool { try ImageCalibrationRows.holdsImages(path) }

    /// A .jsonl file whose first row has an "instruction" field.
    static func isAlpaca(_ path: String) throws -> Bool {
        guard path.hasSuffix(".jsonl") else { return false }
        return try CalibrationData.jsonlRows(path: path).first?.object["instruction"] != nil
    }

    /// The sequence of an image row: its prompt's `<image>` expanded to the image's feature rows, the text after it
    /// cut at `seqLen`; the image must fit whole and decode.
    private static func imageSequence(_ row: ImageCalibrationRows.Row, file: String, tokenizer: any Tokenizer, seqLen: Int,
                                      images: ImageTokens) throws -> Sequence {
        let prompt = try images.markerIsToken ? tokenizer.encode(row.prompt)
            : LlavaVision.markedPrompt(row.prompt, tokenizer: tokenizer, placeholder: images.id, addingSpecialTokens: true, file: file)
        let places = prompt.indices.filter { prompt[$0] == images.id }
        guard places.count == 1 else {
            throw MopError(file: file, "line \(row.line): the prompt encodes to \(places.count) image tokens (\(images.id)); it needs exactly one")
        }
        let start = places[0], end = start + images.count
        guard end < seqLen else {
            throw MopError(file: file, "line \(row.line): the image's \(images.count) feature rows take tokens \(start)..<\(end), so no text after them fits in \(seqLen) tokens (--seq-len, at most the model's positions)")
        }
        let expanded: [Int32] = Array(prompt[..<start]) + [Int32](repeating: images.id, count: images.count) + Array(prompt[(start + 1)...])
        do {
            _ = try RGBImage.decode(path: row.image)
        } catch let error as MopError {
            throw MopError(file: file, "line \(row.line): image \(PrintableText.quote(row.image)): \(error.problem)")
        }
        return Sequence(tokens: Array(expanded.prefix(seqLen)), image: Image(path: row.image, rows: start..<end))
    }
}
