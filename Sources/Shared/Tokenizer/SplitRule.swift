/// One regex of a pre-tokenizer that splits text with several regexes in turn: tokenizer.json's Sequence of Split
/// pre-tokenizers (behavior Isolated) before a ByteLevel without its own regex, and llama.cpp's regex lists for
/// DeepSeek and Falcon. Each regex splits every piece the ones before it left: its matches, and the text between
/// them, become pieces; a match never crosses a piece, and `$` and lookahead stop at the piece's end. The regexes are
/// hand-written matchers over Unicode scalars, as in `PreTokenizer`.
public enum SplitRule: Equatable, Sendable, CaseIterable {
    /// `[\r\n]`.
    case lineBreak
    /// `\s?\p{L}+`.
    case spacedLetters
    /// `\s?\p{P}+`.
    case spacedPunctuation
    /// `\s?[A-Za-zµÀ-Ö...]+`: DeepSeek-LLM's letters, an explicit list of ranges (`deepSeekLetters`).
    case spacedDeepSeekLetters
    /// `\s?[!-/:-~！-／：-～‘-‟　-。]+`: DeepSeek-LLM's punctuation.
    case spacedDeepSeekPunctuation
    /// `\s+$`: the whitespace that ends a piece.
    case trailingWhitespace
    /// `[一-龥ࠀ-一가-퟿]+`: DeepSeek's CJK (and everything from U+0800 to U+4E00).
    case cjk
    /// `\p{N}+`.
    case numbers
    /// `\p{N}`.
    case number
    /// `[\p{P}\$\+<=>\^~\|`]+`: Falcon's punctuation and symbols.
    case falconPunctuation
    /// GPT-2's regex without its last alternative `\s+`, so that a lone whitespace before a non-space is left
    /// unmatched (Falcon's).
    case gpt2WithoutLoneSpace
    /// `[0-9][0-9][0-9]`.
    case asciiDigitTriple

    private static let deepSeekLetters: [ClosedRange<UInt32>] = [
        0x41...0x5A, 0x61...0x7A, 0xB5...0xB5, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x1BA, 0x1BC...0x1BF, 0x1C4...0x293,
        0x295...0x2AF, 0x370...0x373, 0x376...0x376, 0x377...0x377, 0x37B...0x37D, 0x37F...0x37F, 0x386...0x386,
        0x388...0x38A, 0x38C...0x38C, 0x38E...0x3A1, 0x3A3...0x3F5, 0x3F7...0x481, 0x48A...0x52F, 0x531...0x556,
        0x10A0...0x10C5, 0x13A0...0x13F5, 0x13F8...0x13FD, 0x1C90...0x1CBA, 0x1CBD...0x1CBF, 0x1D00...0x1D2B,
        0x1D6B...0x1D77, 0x1D79...0x1D9A, 0x1E00...0x1F15, 0x1F18...0x1F1D, 0x1F20...0x1F45, 0x1F48...0x1F4D,
        0x1F50...0x1F57, 0x1F59...0x1F59, 0x1F5B...0x1F5B, 0x1F5D...0x1F5D, 0x1F5F...0x1F7D, 0x1F80...0x1FB4,
        0x1FB6...0x1FBC, 0x1FBE...0x1FBE, 0x1FC2...0x1FC4, 0x1FC6...0x1FCC, 0x1FD0...0x1FD3, 0x1FD6...0x1FDB,
        0x1FE0...0x1FEC, 0x1FF2...0x1FF4, 0x1FF6...0x1FFC, 0x2102...0x2102, 0x2107...0x2107, 0x210A...0x2113,
        0x2115...0x2115, 0x2119...0x211D, 0x2124...0x2124, 0x2126...0x2126, 0x2128...0x2128, 0x212A...0x212D,
        0x212F...0x2134, 0x2139...0x2139, 0x213C...0x213F, 0x2145...0x2149, 0x214E...0x214E, 0x2183...0x2183,
        0x2184...0x2184, 0x2C00...0x2C7B, 0x2C7E...0x2CE4, 0x2CEB...0x2CEE, 0x2CF2...0x2CF2, 0x2CF3...0x2CF3,
        0xA640...0xA66D, 0xA680...0xA69B, 0xA722...0xA76F, 0xA771...0xA787, 0xA78B...0xA78E, 0xAB70...0xABBF,
        0xFB00...0xFB06, 0xFB13...0xFB17, 0xFF21...0xFF3A, 0xFF41...0xFF5A, 0x10400...0x1044F, 0x104B0...0x104D3,
        0x104D8...0x104FB, 0x10C80...0x10CB2, 0x10CC0...0x10CF2, 0x118A0...0x118DF, 0x1E900...0x1E943,
    ]
    private static let deepSeekPunctuation: [ClosedRange<UInt32>] = [
        0x21...0x2F, 0x3A...0x7E, 0xFF01...0xFF0F, 0xFF1A...0xFF5E, 0x2018...0x201F, 0x3000...0x3002,
    ]
    private static let cjkRanges: [ClosedRange<UInt32>] = [0x4E00...0x9FA5, 0x800...0x4E00, 0xAC00...0xD7FF]

    /// The regex as tokenizer.json (and llama.cpp) spells it.
    public var regex: String {
        switch self {
        case .lineBreak: "[\r\n]"
        case .spacedLetters: #"\s?\p{L}+"#
        case .spacedPunctuation: #"\s?\p{P}+"#
        case .spacedDeepSeekLetters: #"\s?["# + Self.spelled(Self.deepSeekLetters) + "]+"
        case .spacedDeepSeekPunctuation: #"\s?["# + Self.spelled(Self.deepSeekPunctuation) + "]+"
        case .trailingWhitespace: #"\s+$"#
        case .cjk: "[" + Self.spelled(Self.cjkRanges) + "]+"
        case .numbers: #"\p{N}+"#
        case .number: #"\p{N}"#
        case .falconPunctuation: #"[\p{P}\$\+<=>\^~\|`]+"#
        case .gpt2WithoutLoneSpace: #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
        case .asciiDigitTriple: "[0-9][0-9][0-9]"
        }
    }

    /// A character class's ranges as the regex writes them: `a-b`, or the character alone.
    private static func spelled(_ ranges: [ClosedRange<UInt32>]) -> String {
        ranges.map { range in
            let low = String(Character(Unicode.Scalar(range.lowerBound)!))
            return range.count == 1 ? low : low + "-" + String(Character(Unicode.Scalar(range.upperBound)!))
        }.joined()
    }

    /// Appends to `pieces` the pieces `range` of `scalars` splits into: matches and the stretches between them.
    func split(_ scalars: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        var i = range.lowerBound, gapStart = range.lowerBound
        while i < range.upperBound {
            guard let length = matchLength(scalars, at: i, end: range.upperBound) else {
                i += 1
                continue
            }
            if gapStart < i { pieces.append(gapStart..<i) }
            pieces.append(i..<(i + length))
            i += length
            gapStart = i
        }
        if gapStart < range.upperBound { pieces.append(gapStart..<range.upperBound) }
    }

    /// The length of the regex's match starting at `i` (leftmost-first, as Oniguruma), nil when there is none;
    /// `end` ends the piece.
    private func matchLength(_ scalars: [Unicode.Scalar], at i: Int, end: Int) -> Int? {
        func kind(_ k: Int) -> ScalarClass { ScalarClass(of: scalars[k]) }
        func run(from k: Int, _ inClass: (Unicode.Scalar) -> Bool) -> Int {
            var j = k
            while j < end, inClass(scalars[j]) { j += 1 }
            return j
        }
        /// `\s?X+`: an optional whitespace character, then a run of X.
        func spacedRun(_ inClass: (Unicode.Scalar) -> Bool) -> Int? {
            let start = kind(i) == .whitespace && i + 1 < end && inClass(scalars[i + 1]) ? i + 1 : i
            guard inClass(scalars[start]) else { return nil }
            return run(from: start, inClass) - i
        }
        /// `X+`.
        func plainRun(_ inClass: (Unicode.Scalar) -> Bool) -> Int? {
            inClass(scalars[i]) ? run(from: i, inClass) - i : nil
        }
        switch self {
        case .lineBreak:
            return scalars[i] == "\r" || scalars[i] == "\n" ? 1 : nil
        case .spacedLetters:
            return spacedRun { ScalarClass(of: $0) == .letter }
        case .spacedPunctuation:
            return spacedRun(Self.isPunctuation)
        case .spacedDeepSeekLetters:
            return spacedRun { Self.contains(Self.deepSeekLetters, $0) }
        case .spacedDeepSeekPunctuation:
            return spacedRun { Self.contains(Self.deepSeekPunctuation, $0) }
        case .trailingWhitespace:
            return kind(i) == .whitespace && run(from: i, { ScalarClass(of: $0) == .whitespace }) == end ? end - i : nil
        case .cjk:
            return plainRun { Self.contains(Self.cjkRanges, $0) }
        case .numbers:
            return plainRun { ScalarClass(of: $0) == .number }
        case .number:
            return kind(i) == .number ? 1 : nil
        case .falconPunctuation:
            return plainRun { Self.isPunctuation($0) || "$+<=>^~|`".unicodeScalars.contains($0) }
        case .gpt2WithoutLoneSpace:
            if let length = contractionLength(scalars, at: i, end: end) { return length }
            let start = scalars[i] == " " && i + 1 < end && kind(i + 1) != .whitespace ? i + 1 : i
            let runClass = kind(start)
            if runClass != .whitespace { return run(from: start, { ScalarClass(of: $0) == runClass }) - i }
            // \s+(?!\S): the whole run at the piece's end, else all of it but the last character; nothing for one.
            let runEnd = run(from: i, { ScalarClass(of: $0) == .whitespace })
            if runEnd == end { return end - i }
            return runEnd - i >= 2 ? runEnd - i - 1 : nil
        case .asciiDigitTriple:
            guard i + 3 <= end else { return nil }
            return scalars[i..<(i + 3)].allSatisfy { $0.value >= 0x30 && $0.value <= 0x39 } ? 3 : nil
        }
    }

    /// GPT-2's contractions, case-sensitive: `'s|'t|'re|'ve|'m|'ll|'d`.
    private func contractionLength(_ scalars: [Unicode.Scalar], at i: Int, end: Int) -> Int? {
        guard scalars[i] == "'", i + 1 < end else { return nil }
        switch scalars[i + 1] {
        case "s", "t", "m", "d": return 2
        case "r", "v": return i + 2 < end && scalars[i + 2] == "e" ? 3 : nil
        case "l": return i + 2 < end && scalars[i + 2] == "l" ? 3 : nil
        default: return nil
        }
    }

    /// `\p{P}`: the seven punctuation categories.
    private static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    private static func contains(_ ranges: [ClosedRange<UInt32>], _ scalar: Unicode.Scalar) -> Bool {
        ranges.contains { $0.contains(scalar.value) }
    }
}
