import Foundation

/// SentencePiece's own model file, `tokenizer.model` in a Hugging Face directory (LLaMA-1/2, Vicuna, Mistral): a
/// protobuf `ModelProto`, read field by field into a SentencePiece `TokenizerSpec`.
///
/// Fields read (sentencepiece_model.proto): `pieces` (1) with `piece` (1), `score` (2) and `type` (3, default
/// NORMAL); `trainer_spec` (2) with `model_type` (3, default UNIGRAM), `treat_whitespace_as_suffix` (24),
/// `split_digits` (25), `unk_id` (40, default 0), `bos_id` (41, default 1), `eos_id` (42, default 2), `pad_id` (43,
/// default -1; negative ids mean none); `normalizer_spec` (3) with `name` (1), `precompiled_charsmap` (2),
/// `add_dummy_prefix` (3, default true), `remove_extra_whitespaces` (4, default true), `escape_whitespaces` (5,
/// default true). Only what `SentencePieceTokenizer` reproduces is accepted: a BPE model, an identity normalizer
/// that escapes spaces and keeps extra whitespace, no suffix whitespace and no digit splitting; anything else is an
/// error naming the file, never a different encoding. BOS is added, as transformers' LlamaTokenizer does, unless
/// tokenizer_config.json says otherwise.
public enum SentencePieceModelFile {
    public static let fileName = "tokenizer.model"

    /// Reads and parses the tokenizer.model at `path`.
    public static func read(path: String) throws -> TokenizerSpec {
        let file = try MappedFile(path: path)
        return try parse(Array(try file.bytes(at: 0, length: file.count, what: fileName)), file: path)
    }

    /// Parses tokenizer.model content; `file` names it in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws -> TokenizerSpec {
        var vocabulary: [String] = [], scores: [Float] = [], types: [TokenType] = []
        var trainer: ArraySlice<UInt8> = [], normalizer: ArraySlice<UInt8> = []
        var model = ProtobufReader(bytes[...], file: file)
        while let (field, value) = try model.next() {
            switch (field, value) {
            case (1, .bytes(let piece)):
                let (text, score, type) = try parsePiece(piece, index: vocabulary.count, file: file)
                vocabulary.append(text)
                scores.append(score)
                types.append(type)
            case (2, .bytes(let message)): trainer = message
            case (3, .bytes(let message)): normalizer = message
            case (1...3, _): throw MopError(file: file, "ModelProto field \(field) is not a message")
            default: break
            }
        }
        guard !vocabulary.isEmpty else { throw MopError(file: file, "holds no pieces") }

        var modelType: UInt64 = 1
        var ids: [Int: Int64] = [40: 0, 41: 1, 42: 2, 43: -1]
        var trainerFlags: [Int: Bool] = [24: false, 25: false]
        var reader = ProtobufReader(trainer, file: file)
        while let (field, value) = try reader.next() {
            guard case .varint(let number) = value else { continue }
            if field == 3 { modelType = number }
            if ids[field] != nil { ids[field] = Int64(Int32(truncatingIfNeeded: number)) }
            if trainerFlags[field] != nil { trainerFlags[field] = number != 0 }
        }
        guard modelType == 2 else {
            let name = [1: "UNIGRAM", 3: "WORD", 4: "CHAR"][modelType] ?? "\(modelType)"
            throw MopError(file: file, "unsupported SentencePiece model type \(name); only BPE is supported")
        }
        if trainerFlags[24] == true { throw MopError(file: file, "unsupported treat_whitespace_as_suffix") }
        if trainerFlags[25] == true { throw MopError(file: file, "unsupported split_digits") }

        var name = "", charsmap = 0
        var normalizerFlags: [Int: Bool] = [3: true, 4: true, 5: true]
        reader = ProtobufReader(normalizer, file: file)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let text)): name = String(decoding: text, as: UTF8.self)
            case (2, .bytes(let map)): charsmap = map.count
            case (3...5, .varint(let number)): normalizerFlags[field] = number != 0
            default: break
            }
        }
        guard name.isEmpty || name == "identity", charsmap == 0 else {
            throw MopError(file: file, "unsupported normalizer \"\(name)\"; only identity is supported")
        }
        if normalizerFlags[4] == true { throw MopError(file: file, "unsupported remove_extra_whitespaces") }
        if normalizerFlags[5] == false { throw MopError(file: file, "unsupported escape_whitespaces false") }

        func id(_ field: Int, _ what: String) throws -> Int32? {
            guard let value = ids[field], value >= 0 else { return nil }
            guard value < vocabulary.count else {
                throw MopError(file: file, "\(what) \(value) is outside the vocabulary of \(vocabulary.count) pieces")
            }
            return Int32(value)
        }
        let bos = try id(41, "bos_id")
        return TokenizerSpec(
            model: .sentencePiece, vocabulary: vocabulary, merges: [], preTokenizer: .gpt2,
            specialTokenIds: types.indices.filter { types[$0].isMatchedWhole }.map(Int32.init), scores: scores,
            tokenTypes: types, bosTokenId: bos, eosTokenId: try id(42, "eos_id"), addBos: bos != nil,
            addSpacePrefix: normalizerFlags[3] ?? true, padTokenId: try id(43, "pad_id"), unkTokenId: try id(40, "unk_id"))
    }

    /// One `SentencePiece` message: its text, score (default 0) and type (default NORMAL).
    private static func parsePiece(_ message: ArraySlice<UInt8>, index: Int, file: String) throws
        -> (String, Float, TokenType) {
        var text: String?, score: Float = 0, type = TokenType.normal
        var reader = ProtobufReader(message, file: file)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let bytes)):
                guard let decoded = String(validating: bytes, as: UTF8.self) else {
                    throw MopError(file: file, "piece \(index) is not UTF-8")
                }
                text = decoded
            case (2, .fixed32(let bits)): score = Float(bitPattern: bits)
            case (3, .varint(let code)):
                guard let known = Int32(exactly: code).flatMap(TokenType.init(rawValue:)), known != .undefined else {
                    throw MopError(file: file, "piece \(index) has unknown type \(code)")
                }
                type = known
            case (1...3, _): throw MopError(file: file, "piece \(index) field \(field) has the wrong wire type")
            default: break
            }
        }
        guard let text, !text.isEmpty else { throw MopError(file: file, "piece \(index) has no text") }
        return (text, score, type)
    }
}
