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

/// Where a SentencePiece-kind tokenizer puts its dummy prefix, a space (U+2581) before a stretch of text: the
/// stretches are the text between special tokens.
public enum DummyPrefix: String, CaseIterable, Equatable, Sendable {
    /// None (Gemma; Metaspace `prepend_scheme` "never").
    case none
    /// Before every stretch, even one that starts with a space: sentencepiece's `add_dummy_prefix`, llama.cpp's
    /// `add_space_prefix`, tokenizer.json's `Prepend` normalizer (LLaMA-2, Mistral).
    case always
    /// Before every stretch that does not start with a space: tokenizer.json's Metaspace `prepend_scheme` "always".
    case unlessSpace
    /// Before the text's first stretch only, when it starts the text and not with a space: Metaspace's "first" (what
    /// transformers 5 writes for LLaMA).
    case firstUnlessSpace
}

/// How a SentencePiece-kind tokenizer picks the next pair of adjacent symbols to merge.
public enum MergePriority: String, CaseIterable, Equatable, Sendable {
    /// Any pair whose concatenation is a piece, the merged piece's score highest first (sentencepiece, llama.cpp:
    /// tokenizer.model, GGUF `llama`).
    case pieceScore
    /// Only the pairs `merges` lists, in its order (Hugging Face's BPE with `byte_fallback`: tokenizer.json).
    case mergeList
}

/// Everything needed to build a tokenizer, as stored in a GGUF or a tokenizer.json.
/// File readers produce it and writers consume it; `tokenizer(file:)` builds the `Tokenizer` of its model kind.
public struct TokenizerSpec: Equatable, Sendable {
    public var model: TokenizerModel
    /// Token strings in id order: in GPT-2's byte-to-unicode alphabet for byte-level BPE, with U+2581 for spaces and
    /// `<0xXX>` byte tokens for SentencePiece.
    public var vocabulary: [String]
    /// Merge rules in priority order, each "left right": byte-level BPE's, and SentencePiece's when `mergePriority` is
    /// `mergeList` (else a GGUF's list kept only to write it back).
    public var merges: [String]
    /// The pre-tokenizer of byte-level BPE; SentencePiece has none and ignores it.
    public var preTokenizer: PreTokenizerKind
    /// Ids of special tokens, matched whole in the text before the model splits it, and kept whole by decode.
    public var specialTokenIds: [Int32]
    /// One score per token, higher merges first (SentencePiece ranking by `pieceScore`); empty for byte-level BPE and
    /// for SentencePiece from tokenizer.json, which ranks by `merges`.
    public var scores: [Float]
    /// One type per token as the file gives them; empty when the file has none (byte-level BPE then treats
    /// `specialTokenIds` as control tokens and the rest as normal ones). SentencePiece needs them.
    public var tokenTypes: [TokenType]
    public var bosTokenId: Int32?
    public var eosTokenId: Int32?
    public var addBos: Bool
    public var addEos: Bool
    /// SentencePiece's dummy prefix, taken off the first token again when decoding. Always `none` for byte-level BPE.
    public var dummyPrefix: DummyPrefix
    /// SentencePiece's merge order; `pieceScore` for byte-level BPE, which always follows `merges`.
    public var mergePriority: MergePriority
    public var chatTemplate: String?
    /// Carried from the input model to the exports (tokenizer_config.json, GGUF); mop itself pads and never emits unk.
    public var padTokenId: Int32?
    public var unkTokenId: Int32?

    public init(model: TokenizerModel = .bytePairs, vocabulary: [String], merges: [String],
                preTokenizer: PreTokenizerKind, specialTokenIds: [Int32], scores: [Float] = [],
                tokenTypes: [TokenType] = [], bosTokenId: Int32?, eosTokenId: Int32?, addBos: Bool,
                addEos: Bool = false, dummyPrefix: DummyPrefix = .none,
                mergePriority: MergePriority = .pieceScore, chatTemplate: String? = nil,
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
        self.dummyPrefix = dummyPrefix
        self.mergePriority = mergePriority
        self.chatTemplate = chatTemplate
        self.padTokenId = padTokenId
        self.unkTokenId = unkTokenId
    }

    /// Whether a dummy prefix is ever added (and so a leading space taken off when decoding).
    public var addsDummyPrefix: Bool { dummyPrefix != .none }

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

    /// The spec with `[PAD...]` tokens added up to `count` (the model's embedding rows), as llama.cpp's converter
    /// adds them when a checkpoint's vocabulary is shorter than its embedding (llava-hf's LLaVA-1.5: 32,002 tokens,
    /// 32,064 rows): llama.cpp refuses a GGUF whose token list and embedding differ. SentencePiece pads are
    /// `[PAD1]`, `[PAD2]`, ... with score -1000, byte-level BPE pads `[PAD<id>]`; both are `unused`, never produced by
    /// tokenizing. A spec that already has `count` tokens or more is returned as it is.
    public func padded(toCount count: Int) -> TokenizerSpec {
        let missing = count - vocabulary.count
        guard missing > 0 else { return self }
        var padded = self
        padded.tokenTypes = resolvedTokenTypes + Array(repeating: .unused, count: missing)
        padded.vocabulary += (1...missing).map { model == .sentencePiece ? "[PAD\($0)]" : "[PAD\(vocabulary.count + $0 - 1)]" }
        if model == .sentencePiece, scores.count == vocabulary.count { padded.scores += Array(repeating: -1000, count: missing) }
        return padded
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

    /// Throws unless sentencepiece and llama.cpp, which rank merges by piece score and know only sentencepiece's own
    /// dummy prefix, tokenize a SentencePiece spec as mop does: a spec read from tokenizer.json ranks by its merges
    /// list (and may use Metaspace's prefix), which `what` (a tokenizer.model, a GGUF) cannot state. `file` names
    /// the file being written.
    public func checkRankedByScore(writing what: String, file: String) throws {
        guard model == .sentencePiece else { return }
        if mergePriority == .mergeList {
            throw MopError(file: file, "the tokenizer (from a tokenizer.json) merges by its merges list, which \(what) "
                           + "cannot state (it ranks by piece score); export its tokenizer.json (the hf/ folder), or give "
                           + "the model's tokenizer.model")
        }
        if dummyPrefix == .unlessSpace || dummyPrefix == .firstUnlessSpace {
            throw MopError(file: file, "the tokenizer's Metaspace dummy prefix (\(dummyPrefix.rawValue)) cannot be "
                           + "stated in \(what)")
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
