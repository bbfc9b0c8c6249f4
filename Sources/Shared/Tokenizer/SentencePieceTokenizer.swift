/// SentencePiece BPE (LLaMA-1/2, Vicuna, Mistral, Gemma) as llama.cpp tokenizes it (`tokenizer.ggml.model = llama`),
/// giving its ids for the same vocabulary, scores and token types; and, with `mergePriority` `mergeList`, Hugging
/// Face's BPE with `byte_fallback` (tokenizer.json), which differs only in which pair merges next.
///
/// Encoding: special tokens (control, user-defined, unknown; a tokenizer.json's added tokens) are matched whole
/// first. Each stretch of text between them gets the dummy prefix (a space) as `dummyPrefix` says; its spaces become
/// U+2581, and it is split into characters. Adjacent symbols are merged until no pair merges (word by word when no
/// merge can cross a word boundary: `wordsMergeAlone`): by `pieceScore`, any pair whose concatenation is a
/// vocabulary entry, the one whose merged piece scores highest first; by `mergeList`, only the pairs of `merges`,
/// the earliest listed first (Hugging Face's rank); leftmost on ties. A final symbol that is not a vocabulary entry
/// (only single characters can be) becomes its UTF-8 bytes' `<0xXX>` tokens. Decoding reverses it: U+2581 to space,
/// byte tokens to their byte, one leading space off the first token when a dummy prefix is added (llama.cpp's
/// `token_to_piece` and `detokenize` for SPM; tokenizer.json's Strip decoder).
public struct SentencePieceTokenizer: Tokenizer {
    public let spec: TokenizerSpec
    /// The id of each piece's UTF-8; a piece listed twice keeps its last id, as llama.cpp's `token_to_id` does.
    private let idForPiece: [ArraySlice<UInt8>: Int32]
    private let scores: [Float]
    /// By `mergeList`: each listed pair's rank, keyed by `pairKey` of its two ids; nil by `pieceScore`.
    private let mergeRanks: [UInt64: Int32]?
    /// The token each byte falls back to, indexed by byte: `<0xXX>`, else the byte as a one-character piece, else
    /// unk; -1 (the byte is dropped) when there is none of them.
    private let byteTokenIds: [Int32]
    private let specials: SpecialTokenMatcher
    /// The bytes each id decodes to.
    private let bytesForId: [[UInt8]]
    /// Whether no piece has a U+2581 right after another character, so that no merge can join the text before a
    /// space (escaped) to the space: then each word, from one such space to the next, merges on its own, with the
    /// same result as the whole stretch (each word's pairs keep their relative order) and a heap that stays in cache.
    /// True for LLaMA's vocabulary; a vocabulary without it merges whole stretches.
    private let wordsMergeAlone: Bool

    /// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's stand-in for a space, in UTF-8.
    static let escapedSpace: [UInt8] = [0xE2, 0x96, 0x81]

    /// Builds the tokenizer; `file` names where the spec came from, for errors (missing scores or types, malformed
    /// byte tokens, ids out of range).
    public init(_ spec: TokenizerSpec, file: String? = nil) throws {
        try spec.validate(file: file)
        let count = spec.vocabulary.count
        guard spec.mergePriority == .mergeList || spec.scores.count == count else {
            throw MopError(file: file, "SentencePiece tokenizer has \(spec.scores.count) scores for \(count) tokens")
        }
        guard spec.tokenTypes.count == count else {
            throw MopError(file: file, "SentencePiece tokenizer has \(spec.tokenTypes.count) token types for \(count) tokens")
        }
        var idForPiece: [ArraySlice<UInt8>: Int32] = [:]
        idForPiece.reserveCapacity(count)
        for (id, piece) in spec.vocabulary.enumerated() { idForPiece[ArraySlice(piece.utf8)] = Int32(id) }

        var bytesForId: [[UInt8]] = []
        bytesForId.reserveCapacity(count)
        var byteTokens = [Int32](repeating: -1, count: 256)
        for (id, (piece, type)) in zip(spec.vocabulary, spec.tokenTypes).enumerated() {
            switch type {
            case .normal:
                bytesForId.append(Self.unescaped(Array(piece.utf8)))
            case .byte:
                guard let byte = Self.byteValue(piece) else {
                    throw MopError(file: file, "byte token \(id) \"\(piece)\" is not of the form <0xXX>")
                }
                bytesForId.append([byte])
                byteTokens[Int(byte)] = Int32(id)
            case .control, .userDefined, .unknown:
                bytesForId.append(Array(piece.utf8))
            case .unused, .undefined:
                bytesForId.append([])
            }
        }
        // llama.cpp's byte_to_token looks up "<0xXX>" by text, then the byte as a one-character piece.
        for byte in 0..<256 where byteTokens[byte] < 0 {
            byteTokens[byte] = idForPiece[ArraySlice(Self.byteName(UInt8(byte)).utf8)]
                ?? (byte < 0x80 ? idForPiece[[UInt8(byte)]] : nil) ?? spec.unkTokenId ?? -1
        }
        self.spec = spec
        self.mergeRanks = spec.mergePriority == .mergeList
            ? try Self.mergeRanks(spec.merges, idForPiece: idForPiece, file: file) : nil
        self.idForPiece = idForPiece
        self.scores = spec.scores
        self.byteTokenIds = byteTokens
        self.bytesForId = bytesForId
        self.wordsMergeAlone = !spec.vocabulary.contains { piece in
            let scalars = Array(piece.unicodeScalars)
            return zip(scalars, scalars.dropFirst()).contains { $0 != "\u{2581}" && $1 == "\u{2581}" }
        }
        self.specials = try SpecialTokenMatcher(ids: spec.specialTokenIds, vocabulary: spec.vocabulary, file: file)
    }

    public func id(of token: String) -> Int32? {
        idForPiece[ArraySlice(token.utf8)]
    }

    public func encode(_ text: String, addingSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = []
        if addingSpecialTokens, spec.addBos, let bos = spec.bosTokenId { ids.append(bos) }
        let scalars = Array(text.unicodeScalars)
        specials.split(scalars, text: { range in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(range.count * 2 + 3)
            if hasDummyPrefix(scalars, range) { bytes.append(contentsOf: Self.escapedSpace) }
            for scalar in scalars[range] {
                if scalar == " " { bytes.append(contentsOf: Self.escapedSpace) } else { bytes.append(contentsOf: scalar.utf8) }
            }
            if wordsMergeAlone {
                var word = 0
                for cut in Self.wordStarts(bytes) {
                    encodeStretch(Array(bytes[word..<cut]), into: &ids)
                    word = cut
                }
                encodeStretch(Array(bytes[word...]), into: &ids)
            } else {
                encodeStretch(bytes, into: &ids)
            }
        }, special: { ids.append($0) })
        if addingSpecialTokens, spec.addEos, let eos = spec.eosTokenId { ids.append(eos) }
        return ids
    }

    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for (index, id) in ids.enumerated() where id >= 0 && Int(id) < bytesForId.count {
            let piece = bytesForId[Int(id)]
            // llama.cpp strips one leading space from the first id only, whatever that id is (BOS too).
            if index == 0, spec.addsDummyPrefix, piece.first == 0x20 {
                bytes.append(contentsOf: piece.dropFirst())
            } else {
                bytes.append(contentsOf: piece)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Merges one escaped stretch (UTF-8 with U+2581 for spaces) and appends its ids. Symbols are byte ranges of
    /// `bytes` kept in a linked list; candidate pairs wait in a heap, and a pair is stale (skipped) once either side
    /// has merged into something else, which its recorded length detects, as in llama.cpp.
    private func encodeStretch(_ bytes: [UInt8], into ids: inout [Int32]) {
        guard !bytes.isEmpty else { return }
        var start: [Int] = [], length: [Int] = []
        var offset = 0
        while offset < bytes.count {
            let width = min(Self.utf8Width(bytes[offset]), bytes.count - offset)
            start.append(offset)
            length.append(width)
            offset += width
        }
        let symbolCount = start.count
        var previous = Array(-1..<(symbolCount - 1))
        var next = Array(1...symbolCount)
        next[symbolCount - 1] = -1

        var queue = PairQueue()
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let size = length[left] + length[right]
            let score: Float
            if let mergeRanks {
                guard let leftId = idForPiece[bytes[start[left]..<(start[left] + length[left])]],
                      let rightId = idForPiece[bytes[start[right]..<(start[right] + length[right])]],
                      let rank = mergeRanks[Self.pairKey(leftId, rightId)] else { return }
                // Exact: `mergeRanks` checks that every rank fits a Float's 24-bit significand.
                score = -Float(rank)
            } else {
                guard let id = idForPiece[bytes[start[left]..<(start[left] + size)]] else { return }
                score = scores[Int(id)]
            }
            queue.push(PairQueue.Pair(left: left, right: right, size: size, score: score))
        }
        for i in 1..<symbolCount { consider(i - 1, i) }
        while let pair = queue.pop() {
            let left = pair.left, right = pair.right
            guard length[left] > 0, length[right] > 0, length[left] + length[right] == pair.size else { continue }
            length[left] += length[right]
            length[right] = 0
            next[left] = next[right]
            if next[right] >= 0 { previous[next[right]] = left }
            consider(previous[left], left)
            consider(left, next[left])
        }
        var symbol = 0
        while symbol >= 0 {
            let piece = bytes[start[symbol]..<(start[symbol] + length[symbol])]
            if let id = idForPiece[piece] {
                ids.append(id)
            } else {
                for byte in piece where byteTokenIds[Int(byte)] >= 0 { ids.append(byteTokenIds[Int(byte)]) }
            }
            symbol = next[symbol]
        }
    }

    /// Whether the stretch `range` of `scalars` (between special tokens) gets the dummy prefix.
    private func hasDummyPrefix(_ scalars: [Unicode.Scalar], _ range: Range<Int>) -> Bool {
        // Metaspace tests the text after spaces became U+2581, so either one counts as a leading space.
        let startsWithSpace = scalars[range.lowerBound] == " " || scalars[range.lowerBound] == "\u{2581}"
        switch spec.dummyPrefix {
        case .none: return false
        // llama.cpp's is_prev_special: true at the start and after each special token, which is every stretch.
        case .always: return true
        case .unlessSpace: return !startsWithSpace
        case .firstUnlessSpace: return range.lowerBound == 0 && !startsWithSpace
        }
    }

    /// The rank of each of `merges` ("left right", highest priority first), keyed by `pairKey`; both sides and their
    /// concatenation must be vocabulary entries, as Hugging Face requires.
    private static func mergeRanks(_ merges: [String], idForPiece: [ArraySlice<UInt8>: Int32], file: String?) throws
        -> [UInt64: Int32] {
        guard merges.count < 1 << 24 else { throw MopError(file: file, "\(merges.count) merges are too many") }
        var ranks: [UInt64: Int32] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            guard let (leftText, rightText) = mergeSides(merge), let left = idForPiece[leftText[...]],
                  let right = idForPiece[rightText[...]], idForPiece[(leftText + rightText)[...]] != nil else {
                throw MopError(file: file, "merge \(rank) \"\(merge)\" is not two vocabulary entries whose concatenation is one")
            }
            // A pair listed twice keeps its last rank, as Hugging Face's map of merges does.
            ranks[pairKey(left, right)] = Int32(rank)
        }
        return ranks
    }

    /// The UTF-8 of a merge's two sides, split at its one space: by bytes, since a space followed by a combining
    /// mark ("▁ह ै") is one Character and a split by Characters would not find it.
    static func mergeSides(_ merge: String) -> ([UInt8], [UInt8])? {
        let bytes = Array(merge.utf8)
        guard let space = bytes.firstIndex(of: 0x20), !bytes[(space + 1)...].contains(0x20) else { return nil }
        return (Array(bytes[..<space]), Array(bytes[(space + 1)...]))
    }

    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// The offsets in `bytes` (escaped text) of each U+2581 that follows another character: where a word begins.
    private static func wordStarts(_ bytes: [UInt8]) -> [Int] {
        var starts: [Int] = []
        var offset = 1
        while offset + 3 <= bytes.count {
            // 0xE2 only ever leads a character, so a match is a whole U+2581.
            if bytes[offset..<(offset + 3)].elementsEqual(escapedSpace),
               offset < 3 || !bytes[(offset - 3)..<offset].elementsEqual(escapedSpace) {
                starts.append(offset)
                offset += 3
            } else {
                offset += 1
            }
        }
        return starts
    }

    /// The length of the UTF-8 sequence a lead byte starts (llama.cpp's unicode_len_utf8: 1 for a stray
    /// continuation byte).
    private static func utf8Width(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }

    /// A normal piece's bytes with each U+2581 turned back into a space.
    private static func unescaped(_ piece: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(piece.count)
        var i = 0
        while i < piece.count {
            if i + 3 <= piece.count, piece[i..<(i + 3)].elementsEqual(escapedSpace) {
                out.append(0x20)
                i += 3
            } else {
                out.append(piece[i])
                i += 1
            }
        }
        return out
    }

    /// "<0xXX>" (upper-case hex) for a byte, as SentencePiece names its byte pieces.
    static func byteName(_ byte: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "<0x\(hex[Int(byte >> 4)])\(hex[Int(byte & 15)])>"
    }

    /// The byte a "<0xXX>" piece stands for (either case of hex digit), nil for anything else.
    static func byteValue(_ piece: String) -> UInt8? {
        let scalars = Array(piece.unicodeScalars)
        guard scalars.count == 6, piece.hasPrefix("<0x"), scalars[5] == ">" else { return nil }
        return UInt8(String(String.UnicodeScalarView(scalars[3..<5])), radix: 16)
    }
}
