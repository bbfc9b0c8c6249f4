/// The kind of each vocabulary entry, with ggml's numbering (`tokenizer.ggml.token_type`, llama.cpp's
/// `llama_token_type`), which SentencePiece's own piece types share (its `Type` enum, shifted: NORMAL = 1 ...).
public enum TokenType: Int32, CaseIterable, Sendable, Codable {
    case undefined = 0
    /// An ordinary piece, produced by merges.
    case normal = 1
    /// `<unk>`: what text the vocabulary cannot spell becomes when there are no byte tokens.
    case unknown = 2
    /// BOS, EOS and the like: matched whole in text, never produced by merges.
    case control = 3
    /// Added pieces matched whole in text before anything else (llama.cpp splits them out even when special tokens
    /// are not parsed).
    case userDefined = 4
    /// A reserved id that no text encodes to and that decodes to nothing.
    case unused = 5
    /// `<0xXX>`: one raw byte, SentencePiece's fallback for text the pieces cannot spell.
    case byte = 6

    /// Whether text is searched for this token before the model splits it (control, user-defined and unknown tokens,
    /// as llama.cpp's special-token partition does).
    public var isMatchedWhole: Bool { self == .control || self == .userDefined || self == .unknown }
}
