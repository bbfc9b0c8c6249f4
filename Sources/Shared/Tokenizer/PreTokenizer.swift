/// Splits text into the pieces that byte-level BPE encodes one at a time, as Hugging Face `tokenizers` does.
///
/// The kind's pattern (`PreTokenizerKind.Pattern`) is applied to the whole text, or, when the kind isolates digits
/// (`Digits(individual_digits=True)`, Rust's `char::is_numeric`, i.e. \p{N}), to each stretch between single numeric
/// characters separately, so no match crosses a digit. Matches are isolated: consecutive pieces cover the text.
/// The regexes are hand-written scanners over Unicode scalars: Swift Regex is orders of magnitude too slow here.
public struct PreTokenizer: Sendable {
    public let kind: PreTokenizerKind

    public init(_ kind: PreTokenizerKind) {
        self.kind = kind
    }

    /// The pieces of `text`, in order; they concatenate back to `text`.
    public func pieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var ranges: [Range<Int>] = []
        split(scalars, in: scalars.indices, into: &ranges)
        return ranges.map { String(String.UnicodeScalarView(scalars[$0])) }
    }

    /// Appends to `pieces` consecutive ranges that cover `scalars[range]`, one per piece; `range` must lie in
    /// `scalars.indices` (internal: only the tokenizer calls it).
    func split(_ scalars: [Unicode.Scalar], in range: Range<Int>, into pieces: inout [Range<Int>]) {
        let classes = range.map { ScalarClass(of: scalars[$0]) }
        let base = range.lowerBound
        guard kind.isolatesDigits else { return splitPattern(scalars, classes, base, range, into: &pieces) }
        var start = range.lowerBound
        for i in range where classes[i - base] == .number {
            if start < i { splitPattern(scalars, classes, base, start..<i, into: &pieces) }
            pieces.append(i..<(i + 1))
            start = i + 1
        }
        if start < range.upperBound { splitPattern(scalars, classes, base, start..<range.upperBound, into: &pieces) }
    }

    /// The kind's regex over one stretch; `classes[i - base]` is the class of `scalars[i]`. Lookahead stops at the
    /// stretch's end, as it does when the regex runs on each split separately.
    private func splitPattern(_ scalars: [Unicode.Scalar], _ classes: [ScalarClass], _ base: Int, _ range: Range<Int>,
                              into pieces: inout [Range<Int>]) {
        let end = range.upperBound
        let matchLength: (Int) -> Int
        switch kind.pattern {
        case .gpt2:
            matchLength = { i in
                contractionLength(scalars, at: i, end: end, caseInsensitive: false)
                    ?? runLength(scalars, classes, base, at: i, end: end)
            }
        case .llama3(let maxDigits):
            matchLength = { i in llama3MatchLength(scalars, classes, base, at: i, end: end, maxDigits: maxDigits) }
        case .successive(let rules):
            return splitSuccessively(scalars, range, rules: rules, into: &pieces)
        }
        var i = range.lowerBound
        while i < end {
            let length = matchLength(i)
            pieces.append(i..<(i + length))
            i += length
        }
    }

    /// Each rule in turn over the pieces the ones before it left.
    private func splitSuccessively(_ scalars: [Unicode.Scalar], _ range: Range<Int>, rules: [SplitRule],
                                   into pieces: inout [Range<Int>]) {
        var current = [range]
        for rule in rules {
            var next: [Range<Int>] = []
            next.reserveCapacity(current.count * 2)
            for piece in current { rule.split(scalars, piece, into: &next) }
            current = next
        }
        pieces.append(contentsOf: current)
    }

    /// The length of LLaMA-3's regex match at `i`: its alternatives tried in order, as the regex engine does.
    private func llama3MatchLength(_ scalars: [Unicode.Scalar], _ classes: [ScalarClass], _ base: Int, at i: Int,
                                   end: Int, maxDigits: Int) -> Int {
        func isLineBreak(_ k: Int) -> Bool { scalars[k] == "\r" || scalars[k] == "\n" }
        func run(of runClass: ScalarClass, from k: Int) -> Int {
            var j = k
            while j < end, classes[j - base] == runClass { j += 1 }
            return j
        }
        let first = classes[i - base]
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if let length = contractionLength(scalars, at: i, end: end, caseInsensitive: true) { return length }
        // [^\r\n\p{L}\p{N}]?\p{L}+: a letter run, with one leading character that is no line break, letter or number.
        if first == .letter { return run(of: .letter, from: i) - i }
        if first != .number, !isLineBreak(i), i + 1 < end, classes[i + 1 - base] == .letter {
            return run(of: .letter, from: i + 1) - i
        }
        // \p{N}{1,maxDigits}
        if first == .number { return min(run(of: .number, from: i) - i, maxDigits) }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*': a run of other characters, after an optional space, with trailing line breaks.
        let otherStart = scalars[i] == " " && i + 1 < end && classes[i + 1 - base] == .other ? i + 1 : i
        if classes[otherStart - base] == .other {
            var j = run(of: .other, from: otherStart)
            while j < end, isLineBreak(j) { j += 1 }
            return j - i
        }
        // Whitespace from here on. \s*[\r\n]+: the run up to its last line break.
        let runEnd = run(of: .whitespace, from: i)
        if let lastBreak = (i..<runEnd).last(where: isLineBreak) { return lastBreak + 1 - i }
        // \s+(?!\S): the run less its last character when a non-space follows; else \s+, the whole run.
        return runEnd < end && runEnd - i >= 2 ? runEnd - i - 1 : runEnd - i
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, case-sensitive in GPT-2's regex and (?i:...) in LLaMA-3's.
    private func contractionLength(_ scalars: [Unicode.Scalar], at i: Int, end: Int, caseInsensitive: Bool) -> Int? {
        guard scalars[i] == "'", i + 1 < end else { return nil }
        // (?i) folds ASCII capitals, and of the other scalars only U+017F (long s) onto a contraction letter.
        func letter(_ k: Int) -> Unicode.Scalar {
            let scalar = scalars[k]
            guard caseInsensitive else { return scalar }
            if scalar == "\u{017F}" { return "s" }
            return scalar.value >= 0x41 && scalar.value <= 0x5A ? Unicode.Scalar(scalar.value + 0x20)! : scalar
        }
        switch letter(i + 1) {
        case "s", "t", "m", "d":
            return 2
        case "r", "v":
            return i + 2 < end && letter(i + 2) == "e" ? 3 : nil
        case "l":
            return i + 2 < end && letter(i + 2) == "l" ? 3 : nil
        default:
            return nil
        }
    }

    /// The remaining alternatives: an optional space then a run of letters, of numbers or of other characters; else
    /// a whitespace run, less its last character when a non-space follows (`\s+(?!\S)`), but never empty (`\s+`).
    private func runLength(_ scalars: [Unicode.Scalar], _ classes: [ScalarClass], _ base: Int, at i: Int,
                           end: Int) -> Int {
        var j = i
        if scalars[i] == " ", i + 1 < end, classes[i + 1 - base] != .whitespace { j = i + 1 }
        let runClass = classes[j - base]
        var k = j + 1
        while k < end, classes[k - base] == runClass { k += 1 }
        if runClass != .whitespace || k == end { return k - i }
        return k - i >= 2 ? k - i - 1 : k - i
    }
}

/// The regex's character classes: \p{L}, \p{N}, \s (Unicode White_Space, as Oniguruma and Rust define it), and the
/// rest. No scalar is in two of them.
enum ScalarClass: UInt8, Sendable {
    case letter, number, whitespace, other

    private static let ascii: [ScalarClass] = (0..<128).map { value in
        switch value {
        case 0x09...0x0D, 0x20: return .whitespace
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        default: return .other
        }
    }

    @inline(__always)
    init(of scalar: Unicode.Scalar) {
        if scalar.value < 128 {
            self = ScalarClass.ascii[Int(scalar.value)]
            return
        }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        default:
            self = properties.isWhitespace ? .whitespace : .other
        }
    }
}
