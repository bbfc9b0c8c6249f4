/// One row of the table of byte-level BPE pre-tokenizers: how a family's text is split and normalized before BPE, and
/// the names files give it. A new family whose split is one of the patterns below is a new row, nothing more.
public struct PreTokenizerKind: Equatable, Sendable, CustomStringConvertible {
    /// The regex each stretch of text is split by (written as scanners in `PreTokenizer`).
    public enum Pattern: Equatable, Sendable {
        /// GPT-2's: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
        case gpt2
        /// LLaMA-3's: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,n}| ?[^\s\p{L}\p{N}]+[\r\n]*|
        /// \s*[\r\n]+|\s+(?!\S)|\s+`, numbers in runs of at most `maxDigits` (Qwen2 uses 1, LLaMA-3 uses 3).
        case llama3(maxDigits: Int)
        /// Several regexes in turn, each splitting the pieces the ones before it left (`SplitRule`).
        case successive([SplitRule])
    }

    /// mop's own name for the row (what ranks exchange; stable).
    public let name: String
    /// The `tokenizer.ggml.pre` values that name it; the first is the one mop writes.
    public let ggufNames: [String]
    public let pattern: Pattern
    /// Whether every numeric character (\p{N}) is split off alone before the regex runs on what lies between
    /// (tokenizer.json's `Digits(individual_digits=True)`), so that no regex match crosses a digit.
    public let isolatesDigits: Bool
    /// Whether text is put in Unicode NFC before splitting (an NFC normalizer in tokenizer.json).
    public let normalizesToNFC: Bool
    /// Whether a piece already in the vocabulary is that one token without merging (tokenizer.json's
    /// `ignore_merges`, which llama.cpp sets for LLaMA-3).
    public let ignoresMerges: Bool
    /// Whether a GGUF without `tokenizer.ggml.add_bos_token` adds BOS (llama.cpp's default for the type).
    public let addsBosByDefault: Bool

    public var ggufName: String { ggufNames[0] }
    public var description: String { name }

    /// GPT-2 and the families llama.cpp splits with its regex (Phi-2, MPT).
    public static let gpt2 = PreTokenizerKind(name: "gpt2", ggufNames: ["gpt-2", "gpt2", "default", "phi-2", "mpt"],
                                              pattern: .gpt2, isolatesDigits: false, normalizesToNFC: false,
                                              ignoresMerges: false, addsBosByDefault: false)
    /// SmolLM2, StarCoder, Refact and Command-R: digits split one by one, then the GPT-2 regex.
    public static let smollm = PreTokenizerKind(name: "smollm", ggufNames: ["smollm", "starcoder", "refact", "command-r"],
                                                pattern: .gpt2, isolatesDigits: true, normalizesToNFC: false,
                                                ignoresMerges: false, addsBosByDefault: false)
    /// Qwen2 (Qwen2.5): LLaMA-3's regex with single digits, after NFC.
    public static let qwen2 = PreTokenizerKind(name: "qwen2", ggufNames: ["qwen2"], pattern: .llama3(maxDigits: 1),
                                               isolatesDigits: false, normalizesToNFC: true, ignoresMerges: false,
                                               addsBosByDefault: false)
    /// LLaMA-3: its regex with numbers in runs of up to three, no normalizer, whole-word vocabulary hits unmerged.
    public static let llama3 = PreTokenizerKind(name: "llama3", ggufNames: ["llama-bpe", "llama3", "llama-v3"],
                                                pattern: .llama3(maxDigits: 3), isolatesDigits: false,
                                                normalizesToNFC: false, ignoresMerges: true, addsBosByDefault: true)

    /// DeepSeek-LLM: line breaks, its own letter and punctuation classes, trailing whitespace, CJK, number runs.
    public static let deepSeekLLM = PreTokenizerKind(
        name: "deepseek-llm", ggufNames: ["deepseek-llm"],
        pattern: .successive([.lineBreak, .spacedDeepSeekLetters, .spacedDeepSeekPunctuation, .trailingWhitespace, .cjk,
                              .numbers]),
        isolatesDigits: false, normalizesToNFC: false, ignoresMerges: false, addsBosByDefault: false)
    /// DeepSeek-Coder: line breaks, letters, punctuation, CJK, single digits.
    public static let deepSeekCoder = PreTokenizerKind(
        name: "deepseek-coder", ggufNames: ["deepseek-coder"],
        pattern: .successive([.lineBreak, .spacedLetters, .spacedPunctuation, .cjk, .number]),
        isolatesDigits: false, normalizesToNFC: false, ignoresMerges: false, addsBosByDefault: false)
    /// Falcon: punctuation runs, then GPT-2's regex (without its lone-whitespace alternative), then ASCII digit triples.
    public static let falcon = PreTokenizerKind(
        name: "falcon", ggufNames: ["falcon"], pattern: .successive([.falconPunctuation, .gpt2WithoutLoneSpace,
                                                                      .asciiDigitTriple]),
        isolatesDigits: false, normalizesToNFC: false, ignoresMerges: false, addsBosByDefault: false)

    public static let all: [PreTokenizerKind] = [.gpt2, .smollm, .qwen2, .llama3, .deepSeekLLM, .deepSeekCoder, .falcon]

    /// The row mop calls `name`.
    public static func named(_ name: String) -> PreTokenizerKind? { all.first { $0.name == name } }

    /// The row a `tokenizer.ggml.pre` value names, nil for one mop does not implement.
    public init?(ggufName: String) {
        guard let row = Self.all.first(where: { $0.ggufNames.contains(ggufName) }) else { return nil }
        self = row
    }

    private init(name: String, ggufNames: [String], pattern: Pattern, isolatesDigits: Bool, normalizesToNFC: Bool,
                 ignoresMerges: Bool, addsBosByDefault: Bool) {
        self.name = name
        self.ggufNames = ggufNames
        self.pattern = pattern
        self.isolatesDigits = isolatesDigits
        self.normalizesToNFC = normalizesToNFC
        self.ignoresMerges = ignoresMerges
        self.addsBosByDefault = addsBosByDefault
    }
}
