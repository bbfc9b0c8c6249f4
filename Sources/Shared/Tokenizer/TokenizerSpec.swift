/// Which pre-tokenizer splits text before byte-level BPE, as named by `tokenizer.ggml.pre` / tokenizer.json.
/// Everything a tokenizer family changes lives here: its GGUF names, and the normalizer its tokenizer.json carries.
public enum PreTokenizerKind: String, CaseIterable, Equatable, Sendable {
    /// The GPT-2 regex.
    case gpt2
    /// SmolLM2: digits split one by one, then the GPT-2 regex.
    case smollm
    /// Qwen2 (Qwen2.5): the LLaMA-3 style regex with single digits, after NFC normalization.
    case qwen2

    /// The `tokenizer.ggml.pre` value llama.cpp writes for this kind.
    public var ggufName: String {
        switch self {
        case .gpt2: "gpt-2"
        case .smollm: "smollm"
        case .qwen2: "qwen2"
        }
    }

    /// The kind a `tokenizer.ggml.pre` value names, nil for one mop does not implement.
    public init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "gpt-2", "default": self = .gpt2
        case "smollm": self = .smollm
        case "qwen2": self = .qwen2
        default: return nil
        }
    }

    /// Whether text is put in Unicode NFC before splitting: Qwen2's tokenizer.json has an NFC normalizer (and
    /// Hugging Face builds the same from a Qwen2 GGUF), so ids only match when the text is normalized first.
    public var normalizesToNFC: Bool { self == .qwen2 }
}

/// Everything needed to build a byte-level BPE tokenizer, as stored in a GGUF or a tokenizer.json.
/// File readers produce it and writers consume it; `BPETokenizer` is built from it.
public struct TokenizerSpec: Equatable, Sendable {
    /// Token strings in id order, in GPT-2's byte-to-unicode alphabet.
    public var vocabulary: [String]
    /// Merge rules in priority order, each "left right".
    public var merges: [String]
    public var preTokenizer: PreTokenizerKind
    /// Ids of special (control) tokens, matched whole in the text before BPE, and kept whole by decode.
    public var specialTokenIds: [Int32]
    public var bosTokenId: Int32?
    public var eosTokenId: Int32?
    public var addBos: Bool
    public var chatTemplate: String?
    /// Carried from the input model to the exports (tokenizer_config.json, GGUF); mop itself pads and never emits unk.
    public var padTokenId: Int32?
    public var unkTokenId: Int32?

    public init(vocabulary: [String], merges: [String], preTokenizer: PreTokenizerKind, specialTokenIds: [Int32],
                bosTokenId: Int32?, eosTokenId: Int32?, addBos: Bool, chatTemplate: String? = nil,
                padTokenId: Int32? = nil, unkTokenId: Int32? = nil) {
        self.vocabulary = vocabulary
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.specialTokenIds = specialTokenIds
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.addBos = addBos
        self.chatTemplate = chatTemplate
        self.padTokenId = padTokenId
        self.unkTokenId = unkTokenId
    }

    /// The ids the spec names (special, BOS, EOS, pad, unk), for range checks against the vocabulary.
    public var namedTokenIds: [Int32] {
        specialTokenIds + [bosTokenId, eosTokenId, padTokenId, unkTokenId].compactMap { $0 }
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
