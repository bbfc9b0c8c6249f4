/// Byte-level BPE (GPT-2 style) that gives the same ids as Hugging Face `tokenizers` for the same vocabulary, merges,
/// pre-tokenizer and special tokens.
///
/// Encoding: special tokens are matched whole in the text first (leftmost, longest first, as HF matches added
/// tokens); the text between them is pre-tokenized, and each piece's UTF-8 bytes, spelled in GPT-2's byte alphabet,
/// are merged lowest rank first (leftmost on ties); with `ignoresMerges` a piece that is itself in the vocabulary is
/// that one token. Immutable and thread-safe; the piece cache lives per call.
public struct BPETokenizer: Tokenizer {
    public let spec: TokenizerSpec
    private let preTokenizer: PreTokenizer
    private let idForToken: [String: Int32]
    /// The id of each single byte's token, indexed by byte; -1 for a byte the vocabulary lacks (SmolLM2 lacks 21
    /// bytes that rarely or never occur in UTF-8, such as 0x04 and 0xC0): HF drops such bytes without a trace.
    private let byteTokenIds: [Int32]
    /// Merge rank and merged token id for a pair of token ids packed as `left << 32 | right`.
    private let merges: [UInt64: (rank: Int32, merged: Int32)]
    private let specials: SpecialTokenMatcher
    /// The bytes each id decodes to.
    private let bytesForId: [[UInt8]]

    /// Builds the tokenizer; `file` names where the spec came from, for errors (merges that name unknown tokens,
    /// special ids out of range).
    public init(_ spec: TokenizerSpec, file: String? = nil) throws {
        try spec.validate(file: file)
        let count = spec.vocabulary.count
        var idForToken: [String: Int32] = [:]
        idForToken.reserveCapacity(count)
        // A vocabulary with a repeated token keeps its first id, as a lookup by string can only return one.
        for (id, token) in spec.vocabulary.enumerated() where idForToken[token] == nil { idForToken[token] = Int32(id) }

        let byteTokenIds = ByteLevel.scalarForByte.map { idForToken[String($0)] ?? -1 }

        var merges: [UInt64: (rank: Int32, merged: Int32)] = [:]
        merges.reserveCapacity(spec.merges.count)
        for (rank, merge) in spec.merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw MopError(file: file, "merge \(rank) \"\(merge)\" is not two tokens separated by one space")
            }
            guard let left = idForToken[String(parts[0])], let right = idForToken[String(parts[1])],
                  let merged = idForToken[String(parts[0] + parts[1])] else {
                throw MopError(file: file, "merge \(rank) \"\(merge)\" names a token missing from the vocabulary")
            }
            // A repeated pair takes its later rank, as HF's map-building does.
            merges[Self.pairKey(left, right)] = (Int32(rank), merged)
        }

        guard spec.merges.count <= Int(Int32.max) else { throw MopError(file: file, "too many merges") }

        // HF's ByteLevel decoder reads every token, special ones too, through the byte alphabet, and falls back to
        // the token's own UTF-8 when one of its characters is outside the alphabet.
        bytesForId = spec.vocabulary.map { ByteLevel.decode($0) ?? Array($0.utf8) }
        self.spec = spec
        self.preTokenizer = PreTokenizer(spec.preTokenizer)
        self.idForToken = idForToken
        self.byteTokenIds = byteTokenIds
        self.merges = merges
        self.specials = try SpecialTokenMatcher(ids: spec.specialTokenIds, vocabulary: spec.vocabulary, file: file)
    }

    /// The id of a token string (in the byte alphabet, or a special token's text).
    public func id(of token: String) -> Int32? {
        idForToken[token]
    }

    public func encode(_ text: String, addingSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = []
        if addingSpecialTokens, spec.addBos, let bos = spec.bosTokenId { ids.append(bos) }
        let scalars = Array(text.unicodeScalars)
        ids.reserveCapacity(scalars.count / 3)
        var cache: [ArraySlice<Unicode.Scalar>: [Int32]] = [:]
        var pieces: [Range<Int>] = []
        let kind = preTokenizer.kind
        specials.split(scalars, text: { range in
            // Special tokens are matched in the raw text; only the text between them is normalized, as in HF.
            let text = kind.normalizesToNFC
                ? Array(String(String.UnicodeScalarView(scalars[range])).precomposedStringWithCanonicalMapping.unicodeScalars)
                : scalars
            pieces.removeAll(keepingCapacity: true)
            preTokenizer.split(text, in: kind.normalizesToNFC ? text.indices : range, into: &pieces)
            for piece in pieces {
                let key = text[piece]
                if let cached = cache[key] {
                    ids.append(contentsOf: cached)
                } else {
                    let pieceIds = encodePiece(key)
                    cache[key] = pieceIds
                    ids.append(contentsOf: pieceIds)
                }
            }
        }, special: { ids.append($0) })
        if addingSpecialTokens, spec.addEos, let eos = spec.eosTokenId { ids.append(eos) }
        return ids
    }

    /// Text for `ids`: tokens back to bytes, then UTF-8 with invalid sequences replaced by U+FFFD (HF decodes with
    /// `from_utf8_lossy`). Special tokens are kept (HF's `skip_special_tokens=False`); ids outside the vocabulary are
    /// skipped, as HF skips them.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < bytesForId.count { bytes.append(contentsOf: bytesForId[Int(id)]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The ids of one pre-tokenized piece: the piece's own token when merges are ignored and the vocabulary has it,
    /// else BPE over its bytes.
    private func encodePiece(_ piece: ArraySlice<Unicode.Scalar>) -> [Int32] {
        if preTokenizer.kind.ignoresMerges,
           let id = idForToken[ByteLevel.encode(piece.lazy.flatMap { $0.utf8 })] {
            return [id]
        }
        return bpe(piece)
    }

    /// BPE over one piece: start from its bytes' tokens (dropping bytes without one) and apply the lowest-ranked merge
    /// among adjacent pairs until none applies. Pieces are short, so a linear scan per merge beats a heap.
    private func bpe(_ piece: ArraySlice<Unicode.Scalar>) -> [Int32] {
        var symbols: [Int32] = []
        for scalar in piece {
            for byte in scalar.utf8 where byteTokenIds[Int(byte)] >= 0 { symbols.append(byteTokenIds[Int(byte)]) }
        }
        guard symbols.count > 1 else { return symbols }
        // ranks[k] is the merge rank of (symbols[k], symbols[k + 1]), Int32.max when they do not merge.
        var ranks = (0..<(symbols.count - 1)).map { rank(symbols[$0], symbols[$0 + 1]) }
        while !ranks.isEmpty {
            var best = 0
            for k in ranks.indices where ranks[k] < ranks[best] { best = k }
            guard ranks[best] != Int32.max,
                  let merged = merges[Self.pairKey(symbols[best], symbols[best + 1])]?.merged else { break }
            symbols[best] = merged
            symbols.remove(at: best + 1)
            ranks.remove(at: best)
            if best > 0 { ranks[best - 1] = rank(symbols[best - 1], merged) }
            if best < ranks.count { ranks[best] = rank(merged, symbols[best + 1]) }
        }
        return symbols
    }

    @inline(__always)
    private func rank(_ left: Int32, _ right: Int32) -> Int32 {
        merges[Self.pairKey(left, right)]?.rank ?? Int32.max
    }

    @inline(__always)
    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}
