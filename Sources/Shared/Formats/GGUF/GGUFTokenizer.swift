/// The `tokenizer.ggml.*` metadata of a GGUF, read into and written from a `TokenizerSpec`.
/// Only byte-level BPE (`tokenizer.ggml.model = gpt2`) is supported.
public enum GGUFTokenizer {
    /// ggml token types that are matched whole before BPE: 3 = control, 4 = user-defined.
    static let controlType: Int32 = 3
    static let userDefinedType: Int32 = 4
    static let normalType: Int32 = 1

    /// The tokenizer described by `file`'s metadata; nil when the file carries none.
    public static func read(from file: GGUFFile) throws -> TokenizerSpec? {
        let meta = file.metadata
        func fail(_ problem: String) -> MopError { MopError(file: file.path, problem) }
        guard let modelValue = meta["tokenizer.ggml.model"] else { return nil }
        guard let model = modelValue.string else { throw fail("tokenizer.ggml.model is not a string") }
        guard model == "gpt2" else { throw fail("unsupported tokenizer model \"\(model)\" (only gpt2 byte-level BPE is supported)") }

        func strings(_ key: String) throws -> [String] {
            guard let array = meta[key]?.array else { throw fail("\(key) is missing or not an array") }
            return try array.map { element in
                guard let string = element.string else { throw fail("\(key) holds a non-string element") }
                return string
            }
        }
        let vocabulary = try strings("tokenizer.ggml.tokens")
        let merges = try strings("tokenizer.ggml.merges")

        var special: [Int32] = []
        if let types = meta["tokenizer.ggml.token_type"] {
            guard let array = types.array, array.count == vocabulary.count else {
                throw fail("tokenizer.ggml.token_type must be an array of \(vocabulary.count) integers, one per token")
            }
            for (id, element) in array.enumerated() {
                guard let type = element.int else { throw fail("tokenizer.ggml.token_type holds a non-integer element") }
                if type == Int(controlType) || type == Int(userDefinedType) { special.append(Int32(id)) }
            }
        }

        let preName = try meta["tokenizer.ggml.pre"].map { value -> String in
            guard let name = value.string else { throw fail("tokenizer.ggml.pre is not a string") }
            return name
        } ?? "default"
        guard let preTokenizer = PreTokenizerKind(ggufName: preName) else {
            throw fail("unsupported pre-tokenizer \"\(preName)\" (tokenizer.ggml.pre; supported: "
                       + PreTokenizerKind.allCases.map(\.ggufName).joined(separator: ", ") + ", default)")
        }

        func tokenId(_ key: String) throws -> Int32? {
            guard let value = meta[key] else { return nil }
            guard let id = value.int, id >= 0, id < vocabulary.count else {
                throw fail("\(key) \(value.summary) is not a token id below the vocabulary size \(vocabulary.count)")
            }
            return Int32(id)
        }
        var addBos = false
        if let value = meta["tokenizer.ggml.add_bos_token"] {
            guard let flag = value.bool else { throw fail("tokenizer.ggml.add_bos_token is not a bool") }
            addBos = flag
        }
        var chatTemplate: String?
        if let value = meta["tokenizer.chat_template"] {
            guard let template = value.string else { throw fail("tokenizer.chat_template is not a string") }
            chatTemplate = template
        }
        return TokenizerSpec(vocabulary: vocabulary, merges: merges, preTokenizer: preTokenizer, specialTokenIds: special,
                             bosTokenId: try tokenId("tokenizer.ggml.bos_token_id"),
                             eosTokenId: try tokenId("tokenizer.ggml.eos_token_id"),
                             addBos: addBos, chatTemplate: chatTemplate,
                             padTokenId: try tokenId("tokenizer.ggml.padding_token_id"),
                             unkTokenId: try tokenId("tokenizer.ggml.unknown_token_id"))
    }

    /// The metadata entries describing `spec`, in the order llama.cpp's converter writes them.
    /// Token ids outside the vocabulary are rejected with an error naming `file`, the file being written.
    public static func metadata(for spec: TokenizerSpec, file: String) throws -> [(key: String, value: GGUFValue)] {
        if let bad = spec.namedTokenIds.first(where: { $0 < 0 || Int($0) >= spec.vocabulary.count }) {
            throw MopError(file: file, "tokenizer token id \(bad) is outside the vocabulary of \(spec.vocabulary.count) tokens")
        }
        let special = Set(spec.specialTokenIds)
        let types = spec.vocabulary.indices.map { GGUFValue.int32(special.contains(Int32($0)) ? controlType : normalType) }
        var entries: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            // llama.cpp spells the GPT-2 pre-tokenizer "gpt-2".
            ("tokenizer.ggml.pre", .string(spec.preTokenizer.ggufName)),
            ("tokenizer.ggml.tokens", .array(.string, spec.vocabulary.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, types)),
            ("tokenizer.ggml.merges", .array(.string, spec.merges.map { .string($0) })),
        ]
        if let bos = spec.bosTokenId { entries.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos = spec.eosTokenId { entries.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        if let unk = spec.unkTokenId { entries.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unk)))) }
        if let pad = spec.padTokenId { entries.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(pad)))) }
        entries.append(("tokenizer.ggml.add_bos_token", .bool(spec.addBos)))
        if let template = spec.chatTemplate { entries.append(("tokenizer.chat_template", .string(template))) }
        return entries
    }
}
