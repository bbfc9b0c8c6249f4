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
///
/// Written back (`data`) with the same fields, plus `byte_fallback` (35) when there are byte pieces and the special
/// pieces' text (`unk_piece` 45 .. `pad_piece` 48), which sentencepiece looks its BOS and EOS ids up by.
public enum SentencePieceModelFile {
    public static let fileName = "tokenizer.model"

    /// Field numbers of sentencepiece_model.proto that are both read and written.
    private enum Field {
        static let pieces = 1, trainerSpec = 2, normalizerSpec = 3
        static let pieceText = 1, pieceScore = 2, pieceType = 3
        static let modelType = 3, byteFallback = 35
        static let unkId = 40, bosId = 41, eosId = 42, padId = 43
        static let unkPiece = 45, bosPiece = 46, eosPiece = 47, padPiece = 48
        static let name = 1, addDummyPrefix = 3, removeExtraWhitespaces = 4, escapeWhitespaces = 5
    }
    /// `TrainerSpec.ModelType.BPE`.
    private static let bpeModelType: UInt64 = 2

    /// `spec` as tokenizer.model content, which `parse` reads back equal (BOS, EOS and chat template aside: those are
    /// tokenizer_config.json's). Only a SentencePiece spec with a non-empty text for every piece can be written;
    /// `file` names the file being written in errors.
    public static func data(_ spec: TokenizerSpec, file: String) throws -> [UInt8] {
        guard spec.model == .sentencePiece else {
            throw MopError(file: file, "a \(spec.model.ggufName) tokenizer is not a SentencePiece model")
        }
        try spec.checkRankedByScore(writing: "a tokenizer.model", file: file)
        guard spec.scores.count == spec.vocabulary.count else {
            throw MopError(file: file, "the tokenizer has \(spec.scores.count) scores for \(spec.vocabulary.count) pieces")
        }
        let types = spec.resolvedTokenTypes
        var model = ProtobufWriter()
        for (index, text) in spec.vocabulary.enumerated() {
            guard !text.isEmpty else { throw MopError(file: file, "piece \(index) is empty, which tokenizer.model cannot hold") }
            var piece = ProtobufWriter()
            piece.add(Field.pieceText, string: text)
            piece.add(Field.pieceScore, float: spec.scores[index])
            piece.add(Field.pieceType, int32: types[index].rawValue)
            model.add(Field.pieces, bytes: piece.bytes)
        }
        var trainer = ProtobufWriter()
        trainer.add(Field.modelType, varint: bpeModelType)
        trainer.add(Field.byteFallback, bool: types.contains(.byte))
        // sentencepiece finds its special ids by these pieces' text (default "<unk>", "<s>", "</s>", "<pad>"), so the
        // text is written with each id; -1 says there is none.
        let special = [(Field.unkId, Field.unkPiece, spec.unkTokenId), (Field.bosId, Field.bosPiece, spec.bosTokenId),
                       (Field.eosId, Field.eosPiece, spec.eosTokenId), (Field.padId, Field.padPiece, spec.padTokenId)]
        for (idField, pieceField, id) in special {
            trainer.add(idField, int32: id ?? -1)
            if let text = spec.text(of: id) { trainer.add(pieceField, string: text) }
        }
        var normalizer = ProtobufWriter()
        normalizer.add(Field.name, string: "identity")
        normalizer.add(Field.addDummyPrefix, bool: spec.addsDummyPrefix)
        normalizer.add(Field.removeExtraWhitespaces, bool: false)
        normalizer.add(Field.escapeWhitespaces, bool: true)
        model.add(Field.trainerSpec, bytes: trainer.bytes)
        model.add(Field.normalizerSpec, bytes: normalizer.bytes)
        return model.bytes
    }

    /// Writes `spec` as a tokenizer.model at `path`, through a temporary file renamed into place.
    public static func write(_ spec: TokenizerSpec, to path: String) throws {
        try AtomicFileWriter.write(Data(try data(spec, file: path)), to: path)
    }

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
        var ids: [Int: Int64] = [Field.unkId: 0, Field.bosId: 1, Field.eosId: 2, Field.padId: -1]
        var trainerFlags: [Int: Bool] = [24: false, 25: false]
        var reader = ProtobufReader(trainer, file: file)
        while let (field, value) = try reader.next() {
            guard case .varint(let number) = value else { continue }
            if field == Field.modelType { modelType = number }
            if ids[field] != nil { ids[field] = Int64(Int32(truncatingIfNeeded: number)) }
            if trainerFlags[field] != nil { trainerFlags[field] = number != 0 }
        }
        guard modelType == bpeModelType else {
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
        let bos = try id(Field.bosId, "bos_id")
        return TokenizerSpec(
            model: .sentencePiece, vocabulary: vocabulary, merges: [], preTokenizer: .gpt2,
            specialTokenIds: types.indices.filter { types[$0].isMatchedWhole }.map(Int32.init), scores: scores,
            tokenTypes: types, bosTokenId: bos, eosTokenId: try id(Field.eosId, "eos_id"), addBos: bos != nil,
            dummyPrefix: normalizerFlags[3] ?? true ? .always : .none, padTokenId: try id(Field.padId, "pad_id"), unkTokenId: try id(Field.unkId, "unk_id"))
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
