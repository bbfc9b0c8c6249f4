import Foundation

/// tokenizer.json with model BPE and `byte_fallback` (LLaMA-2, Mistral, Gemma, and what transformers writes for them),
/// read into and written from a SentencePiece-kind `TokenizerSpec` whose `mergePriority` is `mergeList`: Hugging Face
/// merges the pairs its merges list names, in that order, not by piece score as sentencepiece does.
///
/// Accepted, as `SentencePieceTokenizer` reproduces it: no dropout, word affixes or `ignore_merges`; the 256 byte
/// tokens `<0x00>` .. `<0xFF>` in the vocabulary; added tokens matched in the raw text (`normalized` false) without
/// strip or single-word flags; the dummy prefix and space escaping as one of: normalizer Prepend("▁") then
/// Replace(" ", "▁") (LLaMA-2's legacy form, `always`), Replace(" ", "▁") alone (Gemma, `none`; its Split on " "
/// after that is a no-op and accepted), or no normalizer and Metaspace("▁", split false) with prepend_scheme
/// always, first or never; decoder Replace("▁", " "), ByteFallback, Fuse, then Strip(" ", 1, 0) exactly when a
/// prefix is added; a post-processor adding one BOS or nothing. Anything else is an error naming the file.
extension TokenizerJSON {
    static func parseByteFallback(_ root: [String: Any], model: [String: Any], data: Data, file: String) throws
        -> TokenizerSpec {
        let unsupported: [(key: String, isDefault: (Any) -> Bool)] = [
            ("dropout", { $0 is NSNull || ($0 as? Double) == 0 || ($0 as? Double) == 1 }),
            ("continuing_subword_prefix", { $0 is NSNull || ($0 as? String) == "" }),
            ("end_of_word_suffix", { $0 is NSNull || ($0 as? String) == "" }),
            ("ignore_merges", { $0 is NSNull || ($0 as? Bool) == false }),
        ]
        for (key, isDefault) in unsupported {
            if let value = model[key], !isDefault(value) {
                throw MopError(file: file, "unsupported model.\(key) = \(describe(value)) with byte_fallback")
            }
        }
        let (_, vocabulary, added) = try vocabulary(root, model: model, data: data, file: file)
        if let normalized = added.first(where: \.isNormalized) {
            throw MopError(file: file, "unsupported normalized added token \"\(normalized.content)\" with byte_fallback; "
                           + "only added tokens matched in the raw text (normalized false) are supported")
        }
        var types = vocabulary.map { SentencePieceTokenizer.byteValue($0) == nil ? TokenType.normal : .byte }
        let pieces = Set(vocabulary)
        for byte in 0...255 where !pieces.contains(SentencePieceTokenizer.byteName(UInt8(byte))) {
            throw MopError(file: file, "byte_fallback without the byte token \(SentencePieceTokenizer.byteName(UInt8(byte)))")
        }
        for token in added { types[Int(token.id)] = token.isSpecial ? .control : .userDefined }
        let dummyPrefix = try dummyPrefix(normalizer: root["normalizer"], preTokenizer: root["pre_tokenizer"], file: file)
        try checkDecoder(root["decoder"], stripsPrefix: dummyPrefix != .none, file: file)
        var unknownId: Int32?
        if let unknown = model["unk_token"], !(unknown is NSNull) {
            guard let text = unknown as? String,
                  let id = vocabulary.firstIndex(where: { $0.unicodeScalars.elementsEqual(text.unicodeScalars) }) else {
                throw MopError(file: file, "model.unk_token \(describe(unknown)) is not a token of the vocabulary")
            }
            unknownId = Int32(id)
        }
        let bos = try templateBos(root["post_processor"], file: file)
        let spec = TokenizerSpec(
            model: .sentencePiece, vocabulary: vocabulary, merges: try parseMerges(data, file: file),
            preTokenizer: .gpt2, specialTokenIds: added.map(\.id), tokenTypes: types, bosTokenId: bos, eosTokenId: nil,
            addBos: bos != nil, dummyPrefix: dummyPrefix, mergePriority: .mergeList, unkTokenId: unknownId)
        // Building the tokenizer once checks the merges against the vocabulary, so a bad file fails here.
        _ = try SentencePieceTokenizer(spec, file: file)
        return spec
    }

    /// tokenizer.json content for a SentencePiece-kind spec, which `tokenizers` loads and tokenizes as mop does. A
    /// spec from tokenizer.json keeps its merges; one ranked by piece score (GGUF, tokenizer.model) gets every split
    /// of every piece into two pieces as a merge, ordered by the merged piece's score (highest first; then by its id,
    /// then the longer left side): ordering them by piece id instead, as transformers 5 does, merges LLaMA's "▁▁"
    /// (score -1e9) first and tokenizes differently. Special pieces (matched whole) and byte pieces take no part in
    /// merges.
    static func byteFallbackData(for spec: TokenizerSpec, file: String) throws -> Data {
        let types = spec.resolvedTokenTypes
        let pieces = Set(spec.vocabulary)
        for byte in 0...255 where !pieces.contains(SentencePieceTokenizer.byteName(UInt8(byte))) {
            throw MopError(file: file, "the tokenizer lacks the byte token \(SentencePieceTokenizer.byteName(UInt8(byte))), "
                           + "which tokenizer.json's byte_fallback needs")
        }
        let merges = spec.mergePriority == .mergeList ? spec.merges : try scoreMerges(spec, types: types, file: file)
        let replaceSpace: [String: Any] = ["type": "Replace", "pattern": ["String": " "], "content": "\u{2581}"]
        let normalizer: Any, preTokenizer: Any
        switch spec.dummyPrefix {
        case .always:
            normalizer = ["type": "Sequence", "normalizers": [["type": "Prepend", "prepend": "\u{2581}"], replaceSpace]]
            preTokenizer = NSNull()
        case .none:
            normalizer = replaceSpace
            preTokenizer = NSNull()
        case .unlessSpace, .firstUnlessSpace:
            normalizer = NSNull()
            preTokenizer = ["type": "Metaspace", "replacement": "\u{2581}", "split": false,
                            "prepend_scheme": spec.dummyPrefix == .unlessSpace ? "always" : "first"]
        }
        var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "],
                                         ["type": "ByteFallback"], ["type": "Fuse"]]
        if spec.addsDummyPrefix { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
        let small: [(key: String, value: Any)] = [
            ("version", "1.0"), ("truncation", NSNull()), ("padding", NSNull()),
            ("added_tokens", try addedTokenEntries(spec, file: file)), ("normalizer", normalizer),
            ("pre_tokenizer", preTokenizer), ("post_processor", try bosTemplate(spec, file: file) ?? NSNull()),
            ("decoder", ["type": "Sequence", "decoders": decoders]),
        ]
        let merged = try merges.map { merge -> String in
            guard let (left, right) = SentencePieceTokenizer.mergeSides(merge) else {
                throw MopError(file: file, "merge \"\(merge)\" is not two pieces separated by one space")
            }
            return "[" + JSONTextWriter.quoted(String(decoding: left, as: UTF8.self)) + ","
                + JSONTextWriter.quoted(String(decoding: right, as: UTF8.self)) + "]"
        }
        return try document(small, unknown: try spec.unkTokenId.map { try token($0, of: spec, file: file) },
                            byteFallback: true, ignoresMerges: false, vocabulary: spec.vocabulary, merges: merged)
    }

    /// The merges that rank pairs as `SentencePieceTokenizer` does by piece score, each "left right".
    private static func scoreMerges(_ spec: TokenizerSpec, types: [TokenType], file: String) throws -> [String] {
        guard spec.scores.count == spec.vocabulary.count else {
            throw MopError(file: file, "the tokenizer has \(spec.scores.count) scores for \(spec.vocabulary.count) pieces")
        }
        let mergeable = types.map { !$0.isMatchedWhole && $0 != .byte }
        // Keyed by UTF-8: String keys would take canonically equivalent pieces (LLaMA has six pairs) for one.
        var idForPiece: [[UInt8]: Int] = [:]
        for (id, piece) in spec.vocabulary.enumerated() where mergeable[id] { idForPiece[Array(piece.utf8)] = id }
        var merges: [(piece: Int, leftLength: Int, text: String)] = []
        for (id, piece) in spec.vocabulary.enumerated() where mergeable[id] {
            let scalars = Array(piece.unicodeScalars)
            for cut in scalars.indices.dropFirst() {
                let left = String(String.UnicodeScalarView(scalars[..<cut]))
                let right = String(String.UnicodeScalarView(scalars[cut...]))
                guard idForPiece[Array(left.utf8)] != nil, idForPiece[Array(right.utf8)] != nil else { continue }
                guard !left.utf8.contains(0x20), !right.utf8.contains(0x20) else {
                    throw MopError(file: file, "piece \(id) \"\(piece)\" holds a space, which a merge cannot")
                }
                merges.append((id, cut, left + " " + right))
            }
        }
        merges.sort { a, b in
            let (scoreA, scoreB) = (spec.scores[a.piece], spec.scores[b.piece])
            if scoreA != scoreB { return scoreA > scoreB }
            return a.piece != b.piece ? a.piece < b.piece : a.leftLength > b.leftLength
        }
        return merges.map(\.text)
    }

    /// The dummy prefix a normalizer and pre-tokenizer pair states, or an error for any other pair.
    private static func dummyPrefix(normalizer: Any?, preTokenizer: Any?, file: String) throws -> DummyPrefix {
        func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }
        func node(_ value: Any?) -> [String: Any]? { value as? [String: Any] }
        func isReplaceSpace(_ value: Any?) -> Bool {
            let n = node(value)
            return n?["type"] as? String == "Replace" && (n?["pattern"] as? [String: Any])?["String"] as? String == " "
                && n?["content"] as? String == "\u{2581}"
        }
        func isPrepend(_ value: Any?) -> Bool {
            node(value)?["type"] as? String == "Prepend" && node(value)?["prepend"] as? String == "\u{2581}"
        }
        // Split on " " after every space became U+2581 finds nothing to split.
        func isNoOpSplit(_ value: Any?) -> Bool {
            let n = node(value)
            return n?["type"] as? String == "Split" && (n?["pattern"] as? [String: Any])?["String"] as? String == " "
                && n?["invert"] as? Bool != true
        }
        let steps: [Any]? = isNull(normalizer) ? [] : node(normalizer)?["type"] as? String == "Sequence"
            ? node(normalizer)?["normalizers"] as? [Any] : [normalizer as Any]
        if let steps, isNull(preTokenizer) || isNoOpSplit(preTokenizer) {
            if steps.count == 2, isPrepend(steps[0]), isReplaceSpace(steps[1]) { return .always }
            if steps.count == 1, isReplaceSpace(steps[0]) { return .none }
        }
        if let steps, steps.isEmpty, let meta = node(preTokenizer), meta["type"] as? String == "Metaspace",
           meta["replacement"] as? String == "\u{2581}", meta["split"] as? Bool == false {
            // tokenizers reads a file without prepend_scheme by its older add_prefix_space (default true).
            let scheme = meta["prepend_scheme"] as? String ?? (meta["add_prefix_space"] as? Bool == false ? "never" : "always")
            switch scheme {
            case "always": return .unlessSpace
            case "first": return .firstUnlessSpace
            case "never": return .none
            default: break
            }
        }
        throw MopError(file: file, "unsupported normalizer \(describe(normalizer ?? NSNull())) with pre_tokenizer "
            + "\(describe(preTokenizer ?? NSNull())) for byte_fallback; supported: Prepend(\"\u{2581}\") then "
            + "Replace(\" \", \"\u{2581}\"), Replace alone, or Metaspace(\"\u{2581}\", split false) without a normalizer")
    }

    /// Throws unless the decoder undoes the escaping: Replace("▁", " "), ByteFallback, Fuse, and Strip(" ", 1, 0)
    /// when `stripsPrefix`.
    private static func checkDecoder(_ value: Any?, stripsPrefix: Bool, file: String) throws {
        let steps = (value as? [String: Any])?["type"] as? String == "Sequence"
            ? ((value as? [String: Any])?["decoders"] as? [[String: Any]] ?? []) : []
        let expected: [(String, ([String: Any]) -> Bool)] = [
            ("Replace", { ($0["pattern"] as? [String: Any])?["String"] as? String == "\u{2581}" && $0["content"] as? String == " " }),
            ("ByteFallback", { _ in true }), ("Fuse", { _ in true }),
        ] + (stripsPrefix ? [("Strip", { $0["content"] as? String == " " && $0["start"] as? Int == 1 && $0["stop"] as? Int == 0 })] : [])
        let matches = steps.count == expected.count
            && zip(steps, expected).allSatisfy { step, want in step["type"] as? String == want.0 && want.1(step) }
        guard matches else {
            throw MopError(file: file, "unsupported decoder \(describe(value ?? NSNull())) for byte_fallback; expected "
                + expected.map(\.0).joined(separator: ", ") + (stripsPrefix ? " (the dummy prefix is added)" : ""))
        }
    }
}
