/// A model's tokenizer: text to ids and back, its special tokens and its rules for adding BOS and EOS. One type per
/// model kind (`TokenizerModel`); callers hold `any Tokenizer`, built by `TokenizerSpec.tokenizer(file:)`.
/// Implementations are immutable and thread-safe.
public protocol Tokenizer: Sendable {
    /// What the tokenizer was built from (exports write it back).
    var spec: TokenizerSpec { get }
    /// The ids of `text`. Special tokens written in the text are matched whole; `addingSpecialTokens` adds BOS and
    /// EOS where the spec asks for them (llama.cpp's `add_special`, Hugging Face's `add_special_tokens`).
    func encode(_ text: String, addingSpecialTokens: Bool) -> [Int32]
    /// The text of `ids`, special tokens kept as their text; ids outside the vocabulary are skipped. Bytes that do not
    /// form UTF-8 become U+FFFD.
    func decode(_ ids: [Int32]) -> String
    /// The id of a vocabulary entry, spelled as the vocabulary spells it.
    func id(of token: String) -> Int32?
}

extension Tokenizer {
    /// The ids of `text` with BOS / EOS added as the spec asks: what a model is fed.
    public func encode(_ text: String) -> [Int32] { encode(text, addingSpecialTokens: true) }

    /// Number of ids in the vocabulary; every id is below it.
    public var tokenCount: Int { spec.vocabulary.count }
    public var bosTokenId: Int32? { spec.bosTokenId }
    public var eosTokenId: Int32? { spec.eosTokenId }
    public var addsBos: Bool { spec.addBos }
    public var addsEos: Bool { spec.addEos }
    public var specialTokenIds: [Int32] { spec.specialTokenIds }
}
