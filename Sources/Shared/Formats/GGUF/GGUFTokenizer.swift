/// The `tokenizer.ggml.*` metadata of a GGUF, read into and written from a `TokenizerSpec`.
/// The tokenizer models are those of `TokenizerModel`: byte-level BPE (`gpt2`) and SentencePiece (`llama`); any other
/// (`bert`, `t5`, `rwkv`, ...) is refused by name, never tokenized some other way.
public enum GGUFTokenizer {
    /// The tokenizer described by `file`'s metadata; nil when the file carries none.
    public static func read(from file: GGUFFile) throws -> TokenizerSpec? {
        let meta = file.metadata
        func fail(_ problem: String) -> MopError { MopError(file: file.path, problem) }
        guard let modelValue = meta["tokenizer.ggml.model"] else { return nil }
        guard let modelName = modelValue.string else { throw fail("tokenizer.ggml.model is not a string") }
        guard let model = TokenizerModel(ggufName: modelName) else {
            throw fail("unsupported tokenizer model \"\(modelName)\" (tokenizer.ggml.model; supported: gpt2, the "
                       + "byte-level BPE, and llama, SentencePiece)")
        }

        func strings(_ key: String) throws -> [String] {
            guard let array = meta[key]?.array else { throw fail("\(key) is missing or not an array") }
            return try array.map { element in
                guard let string = element.string else { throw fail("\(key) holds a non-string element") }
                return string
            }
        }
        let vocabulary = try strings("tokenizer.ggml.tokens")
        // SentencePiece ranks merges by score: llama.cpp needs no merge list for it, and files often have none.
        let merges = model == .sentencePiece && meta["tokenizer.ggml.merges"] == nil
            ? [] : try strings("tokenizer.ggml.merges")

        var types: [TokenType] = []
        if let value = meta["tokenizer.ggml.token_type"] {
            guard let array = value.array, array.count == vocabulary.count else {
                throw fail("tokenizer.ggml.token_type must be an array of \(vocabulary.count) integers, one per token")
            }
            types = try array.map { element in
                guard let raw = element.int, let code = Int32(exactly: raw) else {
                    throw fail("tokenizer.ggml.token_type holds a non-integer element")
                }
                // llama.cpp reads a type it does not know as undefined.
                return TokenType(rawValue: code) ?? .undefined
            }
        }
        var scores: [Float] = []
        if let value = meta["tokenizer.ggml.scores"] {
            guard let array = value.array, array.count == vocabulary.count else {
                throw fail("tokenizer.ggml.scores must be an array of \(vocabulary.count) numbers, one per token")
            }
            // llama.cpp takes float32 scores, or int32 ones as floats.
            scores = try array.map { element in
                switch element {
                case .float32(let score): return score
                case .int32(let score): return Float(score)
                default: throw fail("tokenizer.ggml.scores holds an element that is neither float32 nor int32")
                }
            }
        } else if model == .sentencePiece {
            throw fail("tokenizer.ggml.scores is missing: SentencePiece merges by score")
        }

        let preName = try meta["tokenizer.ggml.pre"].map { value -> String in
            guard let name = value.string else { throw fail("tokenizer.ggml.pre is not a string") }
            return name
        } ?? "default"
        let preTokenizer: PreTokenizerKind
        switch model {
        case .bytePairs:
            guard let kind = PreTokenizerKind(ggufName: preName) else {
                throw fail("unsupported pre-tokenizer \"\(preName)\" (tokenizer.ggml.pre; supported: "
                           + PreTokenizerKind.all.flatMap(\.ggufNames).joined(separator: ", ") + ")")
            }
            preTokenizer = kind
        case .sentencePiece:
            // SentencePiece has no pre-tokenizer; llama.cpp ignores the key for it.
            preTokenizer = .gpt2
        }

        func tokenId(_ key: String) throws -> Int32? {
            guard let value = meta[key] else { return nil }
            guard let id = value.int, id >= 0, id < vocabulary.count else {
                throw fail("\(key) \(value.summary) is not a token id below the vocabulary size \(vocabulary.count)")
            }
            return Int32(id)
        }
        func flag(_ key: String, default defaultValue: Bool) throws -> Bool {
            guard let value = meta[key] else { return defaultValue }
            guard let flag = value.bool else { throw fail("\(key) is not a bool") }
            return flag
        }
        var chatTemplate: String?
        if let value = meta["tokenizer.chat_template"] {
            guard let template = value.string else { throw fail("tokenizer.chat_template is not a string") }
            chatTemplate = template
        }
        let special = types.indices.filter { types[$0].isMatchedWhole }.map { Int32($0) }
        return TokenizerSpec(
            model: model, vocabulary: vocabulary, merges: merges, preTokenizer: preTokenizer, specialTokenIds: special,
            scores: model == .sentencePiece ? scores : [],
            // Byte-level BPE keeps only which tokens are special; SentencePiece needs every type (bytes, unused).
            tokenTypes: model == .sentencePiece ? (types.isEmpty ? Array(repeating: .normal, count: vocabulary.count) : types) : [],
            bosTokenId: try tokenId("tokenizer.ggml.bos_token_id"),
            eosTokenId: try tokenId("tokenizer.ggml.eos_token_id"),
            addBos: try flag("tokenizer.ggml.add_bos_token",
                             default: model == .sentencePiece || preTokenizer.addsBosByDefault),
            addEos: try flag("tokenizer.ggml.add_eos_token", default: false),
            dummyPrefix: try model == .sentencePiece && flag("tokenizer.ggml.add_space_prefix", default: true) ? .always : .none,
            chatTemplate: chatTemplate,
            padTokenId: try tokenId("tokenizer.ggml.padding_token_id"),
            unkTokenId: try tokenId("tokenizer.ggml.unknown_token_id"))
    }

    /// The metadata entries describing `spec`, in the order llama.cpp's converter writes them.
    /// Token ids outside the vocabulary are rejected with an error naming `file`, the file being written.
    public static func metadata(for spec: TokenizerSpec, file: String) throws -> [(key: String, value: GGUFValue)] {
        if let bad = spec.namedTokenIds.first(where: { $0 < 0 || Int($0) >= spec.vocabulary.count }) {
            throw MopError(file: file, "tokenizer token id \(bad) is outside the vocabulary of \(spec.vocabulary.count) tokens")
        }
        try spec.checkRankedByScore(writing: "a GGUF", file: file)
        let types = spec.resolvedTokenTypes
        guard types.count == spec.vocabulary.count else {
            throw MopError(file: file, "tokenizer has \(types.count) token types for \(spec.vocabulary.count) tokens")
        }
        var entries: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string(spec.model.ggufName)),
            // llama.cpp spells the GPT-2 pre-tokenizer "gpt-2"; SentencePiece files say "default".
            ("tokenizer.ggml.pre", .string(spec.model == .bytePairs ? spec.preTokenizer.ggufName : "default")),
            ("tokenizer.ggml.tokens", .array(.string, spec.vocabulary.map { .string($0) })),
        ]
        if spec.model == .sentencePiece {
            guard spec.scores.count == spec.vocabulary.count else {
                throw MopError(file: file, "tokenizer has \(spec.scores.count) scores for \(spec.vocabulary.count) tokens")
            }
            entries.append(("tokenizer.ggml.scores", .array(.float32, spec.scores.map { .float32($0) })))
        }
        entries.append(("tokenizer.ggml.token_type", .array(.int32, types.map { .int32($0.rawValue) })))
        if spec.model == .bytePairs || !spec.merges.isEmpty {
            entries.append(("tokenizer.ggml.merges", .array(.string, spec.merges.map { .string($0) })))
        }
        if let bos = spec.bosTokenId { entries.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos = spec.eosTokenId { entries.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        if let unk = spec.unkTokenId { entries.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unk)))) }
        if let pad = spec.padTokenId { entries.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(pad)))) }
        entries.append(("tokenizer.ggml.add_bos_token", .bool(spec.addBos)))
        if spec.addEos || spec.model == .sentencePiece {
            entries.append(("tokenizer.ggml.add_eos_token", .bool(spec.addEos)))
        }
        if spec.model == .sentencePiece {
            entries.append(("tokenizer.ggml.add_space_prefix", .bool(spec.addsDummyPrefix)))
        }
        if let template = spec.chatTemplate { entries.append(("tokenizer.chat_template", .string(template))) }
        return entries
    }
}
