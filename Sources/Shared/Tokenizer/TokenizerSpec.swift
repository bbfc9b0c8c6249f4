/// How a tokenizer turns text pieces into ids: the model kinds mop implements, one `Tokenizer` type each.
public enum TokenizerModel: String, CaseIterable, Equatable, Sendable {
    /// Byte-level BPE (GPT-2 style): ranked merges over a byte alphabet, after a pre-tokenizer (`BPETokenizer`).
    case bytePairs
    /// SentencePiece BPE as llama.cpp runs it: merges chosen by the score of the merged piece, spaces as U+2581, byte
    /// fallback (`SentencePieceTokenizer`).
    case sentencePiece

    /// The `tokenizer.ggml.model` value of this kind.
    public var ggufName: String {
        switch self {
        case .bytePairs: "gpt2"
        case .sentencePiece: "llama"
        }
    }

    public init?(ggufName: String) {
        guard let model = Self.allCases.first(where: { $0.ggufName == ggufName }) else { return nil }
        self = model
    }
}

/// Everything needed to build a tokenizer, as stored in a GGUF or a tokenizer.json.
/// File readers produce it and writers consume it; `tokenizer(file:)` builds the `Tokenizer` of its model kind.
public struct TokenizerSpec: Equatable, Sendable {
    public var model: TokenizerModel
    /// Token strings in id order: in GPT-2's byte-to-unicode alphabet for byte-level BPE, with U+2581 for spaces and
    /// `<0xXX>` byte tokens for SentencePiece.
    public var vocabulary: [String]
    /// Merge rules in priority order, each "left right" (byte-level BPE; SentencePiece ranks by `scores` instead).
    public var merges: [String]
    /// The pre-tokenizer of byte-level BPE; SentencePiece has none and ignores it.
    public var preTokenizer: PreTokenizerKind
    /// Ids of special tokens, matched whole in the text before the model splits it, and kept whole by decode.
    public var specialTokenIds: [Int32]
    /// One score per token, higher merges first (SentencePiece); empty for byte-level BPE.
    public var scores: [Float]
    /// One type per token as the file gives them; empty when the file has none (byte-level BPE then treats
    /// `specialTokenIds` as control tokens and the rest as normal ones). SentencePiece needs them.
    public var tokenTypes: [TokenType]
    public var bosTokenId: Int32?
    public var eosTokenId: Int32?
    public var addBos: Bool
    public var addEos: Bool
    /// SentencePiece's dummy prefix: a space put before the text and after each special token, and taken off the
    /// first token again when decoding (`tokenizer.ggml.add_space_prefix`, true unless a file says otherwise).
    /// Always false for byte-level BPE, which has none.
    public var addSpacePrefix: Bool
    public var chatTemplate: String?
    /// Carried from the input model to the exports (tokenizer_config.json, GGUF); mop itself pads and never emits unk.
    public var padTokenId: Int32?
    public var unkTokenId: Int32?

    public init(model: TokenizerModel = .bytePairs, vocabulary: [String], merges: [String],
                preTokenizer: PreTokenizerKind, specialTokenIds: [Int32], scores: [Float] = [],
                tokenTypes: [TokenType] = [], bosTokenId: Int32?, eosTokenId: Int32?, addBos: Bool,
                addEos: Bool = false, addSpacePrefix: Bool = false, chatTemplate: String? = nil,
                padTokenId: Int32? = nil, unkTokenId: Int32? = nil) {
        self.model = model
        self.vocabulary = vocabulary
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.specialTokenIds = specialTokenIds
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.addBos = addBos
        self.addEos = addEos
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
        self.padTokenId = padTokenId
        self.unkTokenId = unkTokenId
    }

    /// The ids the spec names (special, BOS, EOS, pad, unk), for range checks against the vocabulary.
    public var namedTokenIds: [Int32] {
        specialTokenIds + [bosTokenId, eosTokenId, padTokenId, unkTokenId].compactMap { $0 }
    }

    /// The vocabulary's text of `id` (a BOS or EOS token's, for chat templates), nil for no id.
    public func text(of id: Int32?) -> String? { id.map { vocabulary[Int($0)] } }

    /// The type of every token: `tokenTypes` when the file gave them, else control for `specialTokenIds` and normal
    /// for the rest.
    public var resolvedTokenTypes: [TokenType] {
        if !tokenTypes.isEmpty { return tokenTypes }
        var types = [TokenType](repeating: .normal, count: vocabulary.count)
        for id in specialTokenIds where types.indices.contains(Int(id)) { types[Int(id)] = .control }
        return types
    }

    /// Checks what every tokenizer needs of the spec: a non-empty vocabulary whose ids fit Int32, the named ids
    /// inside it, and a BOS (EOS) id when it asks to add one; `file` names where the spec came from.
    func validate(file: String?) throws {
        let count = vocabulary.count
        guard count > 0, count <= Int(Int32.max) else {
            throw MopError(file: file, "tokenizer vocabulary has \(count) tokens")
        }
        for id in namedTokenIds where !(0..<Int32(count)).contains(id) {
            throw MopError(file: file, "special token id \(id) is outside the vocabulary of \(count) tokens")
        }
        if addBos && bosTokenId == nil {
            throw MopError(file: file, "tokenizer asks to add a BOS token but has no BOS token id")
        }
        if addEos && eosTokenId == nil {
            throw MopError(file: file, "tokenizer asks to add an EOS token but has no EOS token id")
        }
    }

    /// The tokenizer of this spec's model kind; `file` names where the spec came from, for errors.
    public func tokenizer(file: String? = nil) throws -> any Tokenizer {
        switch model {
        case .bytePairs: try BPETokenizer(self, file: file)
        case .sentencePiece: try SentencePieceTokenizer(self, file: file)
        }
    }

    /// Throws unless every id this tokenizer can produce (its whole vocabulary, special and added tokens included,
    /// and the ids it names) has a row in the model's embedding of `embeddingRows` rows: a tokenizer of another
    /// model would otherwise index past the embedding. Fewer tokens than rows is normal (padding rows).
    public func checkFits(embeddingRows: Int, file: String) throws {
        let largest = max(vocabulary.count - 1, Int(namedTokenIds.max() ?? 0))
        guard largest >= embeddingRows else { return }
        throw MopError(file: file, "the tokenizer's ids go up to \(largest) (\(vocabulary.count) tokens), but the model's embedding has \(embeddingRows) rows: the tokenizer belongs to another model")
    }
}
