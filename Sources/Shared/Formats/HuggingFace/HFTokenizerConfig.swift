import Foundation

/// Hugging Face `tokenizer_config.json`: what tokenizer.json leaves to transformers, namely the chat template, which
/// tokens are BOS, EOS, pad and unk (named by their strings) and whether BOS and EOS are added. mop writes it as
/// transformers writes it for a GPT-2-style byte-level BPE tokenizer (`GPT2Tokenizer`) or a SentencePiece one (class
/// `PreTrainedTokenizerFast`: transformers 5's `LlamaTokenizer` would rebuild the tokenizer.json pipeline with a
/// Metaspace "first" prefix, which differs from sentencepiece on text that starts with a space), so that
/// `AutoTokenizer.from_pretrained` and `apply_chat_template` work on an export, and reads it back into a
/// `TokenizerSpec` built from tokenizer.json or tokenizer.model.
public struct HFTokenizerConfig: Equatable, Sendable {
    public static let fileName = "tokenizer_config.json"

    public var chatTemplate: String?
    public var bosToken: String?
    public var eosToken: String?
    public var padToken: String?
    public var unkToken: String?
    public var addBosToken: Bool?
    public var addEosToken: Bool?
    /// nil when absent or when it is transformers' "unlimited" (a float near 1e30).
    public var modelMaxLength: Int?
    public var tokenizerClass: String?
    /// GPT2Tokenizer's `add_prefix_space`; left out for SentencePiece, whose tokenizer.model states its dummy prefix
    /// (transformers' LlamaTokenizerFast rebuilds itself from the slow tokenizer when the key is given).
    public var addPrefixSpace: Bool?
    /// `added_tokens_decoder`: the content of each added (special) token, by id.
    public var addedTokens: [Int: String]

    public init(chatTemplate: String? = nil, bosToken: String? = nil, eosToken: String? = nil, padToken: String? = nil,
                unkToken: String? = nil, addBosToken: Bool? = nil, addEosToken: Bool? = nil, modelMaxLength: Int? = nil,
                tokenizerClass: String? = nil, addPrefixSpace: Bool? = nil, addedTokens: [Int: String] = [:]) {
        self.chatTemplate = chatTemplate
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.padToken = padToken
        self.unkToken = unkToken
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.modelMaxLength = modelMaxLength
        self.tokenizerClass = tokenizerClass
        self.addPrefixSpace = addPrefixSpace
        self.addedTokens = addedTokens
    }

    /// The config stating `spec`'s template and special tokens; `maxPositions` is the model's context length.
    /// Ids outside the vocabulary are an error naming `file`, the file being written.
    public init(spec: TokenizerSpec, maxPositions: Int, file: String) throws {
        func content(_ id: Int32?) throws -> String? {
            guard let id else { return nil }
            guard spec.vocabulary.indices.contains(Int(id)) else {
                throw MopError(file: file, "token id \(id) is outside the vocabulary of \(spec.vocabulary.count) tokens")
            }
            return spec.vocabulary[Int(id)]
        }
        var added: [Int: String] = [:]
        for id in spec.specialTokenIds { added[Int(id)] = try content(id) }
        self.init(chatTemplate: spec.chatTemplate, bosToken: try content(spec.bosTokenId),
                  eosToken: try content(spec.eosTokenId), padToken: try content(spec.padTokenId),
                  unkToken: try content(spec.unkTokenId), addBosToken: spec.addBos,
                  // Stated even when false, rather than left to the tokenizer class's default.
                  addEosToken: spec.addEos, modelMaxLength: maxPositions,
                  tokenizerClass: spec.model == .sentencePiece ? "PreTrainedTokenizerFast" : "GPT2Tokenizer",
                  // mop's byte-level BPE never adds a prefix space.
                  addPrefixSpace: spec.model == .sentencePiece ? nil : false, addedTokens: added)
    }

    /// Parses tokenizer_config.json content; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> HFTokenizerConfig {
        let fields = try JSONFields(data: data, file: file)
        var config = HFTokenizerConfig(
            chatTemplate: try chatTemplate(fields),
            bosToken: try token(fields, "bos_token"), eosToken: try token(fields, "eos_token"),
            padToken: try token(fields, "pad_token"), unkToken: try token(fields, "unk_token"),
            addBosToken: try fields.optionalBool("add_bos_token"), addEosToken: try fields.optionalBool("add_eos_token"),
            tokenizerClass: try fields.optionalString("tokenizer_class"),
            addPrefixSpace: try fields.optionalBool("add_prefix_space"))
        if let length = try fields.optionalDouble("model_max_length") {
            guard length >= 1 else { throw MopError(file: file, "key model_max_length = \(length) is not a positive length") }
            // transformers writes int(1e30) for "no limit", which no Int holds.
            config.modelMaxLength = length < 0x1p53 ? Int(exactly: length) : nil
        }
        if let decoder = try fields.optionalObject("added_tokens_decoder") {
            for key in decoder.object.keys {
                guard let id = Int(key), id >= 0 else {
                    throw MopError(file: file, "key added_tokens_decoder.\(key) is not a token id")
                }
                guard let entry = try decoder.optionalObject(key) else { continue }
                config.addedTokens[id] = try entry.string("content")
            }
        }
        return config
    }

    /// A special token: a string, or transformers' serialised AddedToken `{"__type": "AddedToken", "content": ...}`.
    private static func token(_ fields: JSONFields, _ key: String) throws -> String? {
        if fields.object[key] is [String: Any] { return try fields.optionalObject(key)?.string("content") }
        return try fields.optionalString(key)
    }

    /// A string, or a list of named templates (transformers 4.x), of which the one named "default" is the chat format.
    private static func chatTemplate(_ fields: JSONFields) throws -> String? {
        guard let list = fields.object["chat_template"] as? [Any] else { return try fields.optionalString("chat_template") }
        for (index, item) in list.enumerated() {
            guard let entry = item as? [String: Any], let name = entry["name"] as? String,
                  let template = entry["template"] as? String else {
                throw MopError(file: fields.file, "key chat_template[\(index)] is not a {\"name\", \"template\"} object")
            }
            if name == "default" { return template }
        }
        throw MopError(file: fields.file, "key chat_template lists no template named \"default\"")
    }

    /// tokenizer_config.json content, keys sorted so that output is reproducible.
    public func data() -> Data {
        var object: [String: Any] = [
            // Decoding keeps spaces as they are.
            "clean_up_tokenization_spaces": false,
            "added_tokens_decoder": Dictionary(uniqueKeysWithValues: addedTokens.map { id, content in
                (String(id), ["content": content, "lstrip": false, "normalized": false, "rstrip": false,
                              "single_word": false, "special": true] as [String: Any])
            }),
        ]
        let optional: [(String, Any?)] = [
            ("chat_template", chatTemplate), ("bos_token", bosToken), ("eos_token", eosToken), ("pad_token", padToken),
            ("unk_token", unkToken), ("add_bos_token", addBosToken), ("add_eos_token", addEosToken),
            ("model_max_length", modelMaxLength), ("tokenizer_class", tokenizerClass), ("add_prefix_space", addPrefixSpace),
        ]
        for case let (key, value?) in optional { object[key] = value }
        // Only strings, booleans and integers: always serialisable.
        let data = try! JSONSerialization.data(withJSONObject: object,
                                               options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return data + Data("\n".utf8)
    }

    /// `spec` (read from tokenizer.json or tokenizer.model) with what this file states: the chat template, the special
    /// tokens' ids, add_bos_token and add_eos_token, which take precedence as they do in transformers. Every token string must be in the vocabulary
    /// and `added_tokens_decoder` must agree with it; `file` names this file in errors.
    public func applied(to spec: TokenizerSpec, file: String) throws -> TokenizerSpec {
        for (id, content) in addedTokens.sorted(by: { $0.key < $1.key }) {
            let actual = spec.vocabulary.indices.contains(id) ? "\"\(spec.vocabulary[id])\"" : "no such id"
            guard actual == "\"\(content)\"" else {
                throw MopError(file: file, "added_tokens_decoder gives id \(id) to \"\(content)\", the tokenizer has \(actual)")
            }
        }
        func id(_ content: String?, _ key: String) throws -> Int32? {
            guard let content else { return nil }
            // An added token's id first: a vocabulary may spell a special token a second time as ordinary text.
            if let added = addedTokens.filter({ $0.value == content }).keys.min() { return Int32(added) }
            guard let index = spec.vocabulary.firstIndex(of: content) else {
                throw MopError(file: file, "\(key) \"\(content)\" is not a token of the tokenizer")
            }
            return Int32(index)
        }
        var result = spec
        result.chatTemplate = chatTemplate ?? spec.chatTemplate
        result.bosTokenId = try id(bosToken, "bos_token") ?? spec.bosTokenId
        result.eosTokenId = try id(eosToken, "eos_token") ?? spec.eosTokenId
        result.padTokenId = try id(padToken, "pad_token") ?? spec.padTokenId
        result.unkTokenId = try id(unkToken, "unk_token") ?? spec.unkTokenId
        if let addBosToken { result.addBos = addBosToken }
        if let addEosToken { result.addEos = addEosToken }
        if result.addBos && result.bosTokenId == nil {
            throw MopError(file: file, "add_bos_token is true but no bos_token is given")
        }
        if result.addEos && result.eosTokenId == nil {
            throw MopError(file: file, "add_eos_token is true but no eos_token is given")
        }
        return result
    }
}
