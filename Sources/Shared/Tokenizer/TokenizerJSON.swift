import Foundation

/// Hugging Face `tokenizer.json`, read into and written from `TokenizerSpec`: byte-level BPE here, BPE with byte
/// fallback (LLaMA-2, Mistral, Gemma) in `TokenizerJSON+ByteFallback.swift`.
///
/// Only what `BPETokenizer` reproduces exactly is accepted: model BPE without dropout, byte fallback or word affixes;
/// a pre-tokenizer, normalizer and `ignore_merges` that together are one row of `PreTokenizerKind.all` (the ByteLevel
/// regex alone or after individual Digits, or a LLaMA-3 style Split regex then ByteLevel without its regex);
/// added tokens without strip or single-word flags (non-special ones user-defined, matched whole as special ones are); a ByteLevel decoder; and a post-processor that is ByteLevel
/// or a template adding one BOS token. Anything else is an error naming the file, never a silently different encoding.
/// EOS and the chat template live in tokenizer_config.json, not here: they read back as nil.
public enum TokenizerJSON {
    /// Reads and parses the tokenizer.json at `path`.
    public static func read(path: String) throws -> TokenizerSpec {
        let file = try MappedFile(path: path)
        let raw = try file.bytes(at: 0, length: file.count, what: "tokenizer.json")
        return try parse(Data(raw), file: path)
    }

    /// Parses tokenizer.json content; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> TokenizerSpec {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw MopError(file: file, "not valid JSON: \(error.localizedDescription)")
        }
        guard let root = object as? [String: Any] else { throw MopError(file: file, "top level is not a JSON object") }
        guard let model = root["model"] as? [String: Any] else { throw MopError(file: file, "missing model") }
        let type = model["type"] as? String ?? "(none)"
        guard type == "BPE" else { throw MopError(file: file, "unsupported model type \(type); only BPE is supported") }
        if model["byte_fallback"] as? Bool == true {
            return try parseByteFallback(root, model: model, data: data, file: file)
        }
        try checkModelOptions(model, file: file)
        let ignoresMerges = try flag(model["ignore_merges"], "model.ignore_merges", file: file)
        let (vocabObject, vocabulary, added) = try vocabulary(root, model: model, data: data, file: file)
        let specialTokenIds = added.map(\.id)

        // HF emits unk_token for a byte the vocabulary lacks; BPETokenizer drops such bytes, as HF does without one.
        if let unk = model["unk_token"] as? String,
           ByteLevel.scalarForByte.contains(where: { vocabObject[String($0)] == nil }) {
            throw MopError(file: file, "unsupported model.unk_token \"\(unk)\" with byte tokens missing from model.vocab")
        }
        let merges = try parseMerges(data, file: file)
        let split = try splitShape(root["pre_tokenizer"], file: file)
        let normalizer = root["normalizer"].flatMap { $0 is NSNull ? nil : $0 }
        let isNFC = (normalizer as? [String: Any])?["type"] as? String == "NFC"
        if let normalizer, !isNFC {
            throw MopError(file: file, "unsupported normalizer \(describe(normalizer)); supported: none or NFC")
        }
        // Non-special added tokens (Phi-2's runs of spaces and tabs) are matched whole like special ones, in the raw
        // text: those matched after normalization only when there is none.
        if isNFC, let normalized = added.first(where: { !$0.isSpecial && $0.isNormalized }) {
            throw MopError(file: file, "unsupported normalized non-special added token \"\(normalized.content)\" with "
                           + "the NFC normalizer")
        }
        var tokenTypes: [TokenType] = []
        if added.contains(where: { !$0.isSpecial }) {
            tokenTypes = Array(repeating: .normal, count: vocabulary.count)
            for token in added { tokenTypes[Int(token.id)] = token.isSpecial ? .control : .userDefined }
        }
        guard let preTokenizer = PreTokenizerKind.all.first(where: {
            $0.pattern == split.pattern && $0.isolatesDigits == split.isolatesDigits && $0.normalizesToNFC == isNFC
                && $0.ignoresMerges == ignoresMerges
        }) else {
            throw MopError(file: file, "unsupported combination of pre_tokenizer \(split.pattern), normalizer "
                + (isNFC ? "NFC" : "none") + " and ignore_merges \(ignoresMerges); supported: "
                + PreTokenizerKind.all.map(\.name).joined(separator: ", "))
        }
        if let decoder = root["decoder"], !(decoder is NSNull),
           (decoder as? [String: Any])?["type"] as? String != "ByteLevel" {
            throw MopError(file: file, "unsupported decoder \(describe(decoder)); only ByteLevel is supported")
        }
        let bos = try templateBos(root["post_processor"], file: file)
        let spec = TokenizerSpec(vocabulary: vocabulary, merges: merges, preTokenizer: preTokenizer,
                                 specialTokenIds: specialTokenIds, tokenTypes: tokenTypes, bosTokenId: bos,
                                 eosTokenId: nil, addBos: bos != nil)
        // Building the tokenizer once checks the merges against the vocabulary, so a bad file fails here.
        _ = try BPETokenizer(spec, file: file)
        return spec
    }

    /// tokenizer.json content that Hugging Face `tokenizers` loads and tokenizes exactly as mop does: byte-level BPE
    /// as `BPETokenizer`, SentencePiece as `SentencePieceTokenizer` (`byteFallbackData`).
    public static func data(for spec: TokenizerSpec, file: String) throws -> Data {
        try checkUnique(spec.vocabulary, file: file)
        if spec.model == .sentencePiece { return try byteFallbackData(for: spec, file: file) }
        let added = try addedTokenEntries(spec, file: file)
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                        "use_regex": true]
        let kind = spec.preTokenizer
        var steps: [[String: Any]] = kind.isolatesDigits ? [["type": "Digits", "individual_digits": true]] : []
        func split(_ regex: String) -> [String: Any] {
            ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false]
        }
        let bytesOnly: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false,
                                        "use_regex": false]
        switch kind.pattern {
        case .gpt2:
            steps.append(byteLevel)
        case .llama3(let maxDigits):
            steps += [split(llama3Pattern(maxDigits: maxDigits)), bytesOnly]
        case .successive(let rules):
            steps += rules.map { split($0.regex) } + [bytesOnly]
        }
        let preTokenizer: [String: Any] = steps.count == 1 ? steps[0] : ["type": "Sequence", "pretokenizers": steps]
        let postProcessor: [String: Any] = try bosTemplate(spec, file: file)
            ?? ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true]
        let small: [(key: String, value: Any)] = [
            ("version", "1.0"), ("truncation", NSNull()), ("padding", NSNull()), ("added_tokens", added),
            ("normalizer", kind.normalizesToNFC ? ["type": "NFC"] : NSNull()), ("pre_tokenizer", preTokenizer), ("post_processor", postProcessor),
            ("decoder", ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true]),
        ]
        return try document(small, unknown: nil, byteFallback: false, ignoresMerges: kind.ignoresMerges,
                            vocabulary: spec.vocabulary, merges: spec.merges.map(JSONTextWriter.quoted))
    }

    /// A whole tokenizer.json: the `small` entries, then model BPE with these options, `vocabulary` in id order and
    /// `merges` (JSON values) in rank order. The vocabulary and merges are written by hand, in id and rank order as HF
    /// writes them: JSONSerialization with sorted keys takes seconds on a 50k-entry object.
    static func document(_ small: [(key: String, value: Any)], unknown: String?, byteFallback: Bool,
                         ignoresMerges: Bool, vocabulary: [String], merges: [String]) throws -> Data {
        var text = "{"
        for (key, value) in small { text += JSONTextWriter.quoted(key) + ":" + (try fragment(value)) + "," }
        text += "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\(unknown.map(JSONTextWriter.quoted) ?? "null"),"
        text += "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":\(byteFallback),"
        text += "\"byte_fallback\":\(byteFallback),\"ignore_merges\":\(ignoresMerges),\"vocab\":{"
        text += vocabulary.enumerated().map { "\(JSONTextWriter.quoted($0.element)):\($0.offset)" }.joined(separator: ",")
        text += "},\"merges\":["
        text += merges.joined(separator: ",")
        text += "]}}\n"
        return Data(text.utf8)
    }

    /// Throws unless every token is spelled once: tokenizer.json's vocabulary is a map from spelling to id.
    private static func checkUnique(_ vocabulary: [String], file: String) throws {
        // By UTF-8, not String equality, which would take canonically equivalent spellings for one.
        var seen = Set<[UInt8]>()
        for token in vocabulary {
            guard seen.insert(Array(token.utf8)).inserted else {
                throw MopError(file: file,
                               "token \"\(token)\" appears twice in the vocabulary; tokenizer.json cannot hold that")
            }
        }
    }

    /// The `added_tokens` entries of `spec`'s special tokens; user-defined ones (SentencePiece) are not special.
    static func addedTokenEntries(_ spec: TokenizerSpec, file: String) throws -> [[String: Any]] {
        let types = spec.resolvedTokenTypes
        return try spec.specialTokenIds.map {
            ["id": Int($0), "content": try token($0, of: spec, file: file), "single_word": false, "lstrip": false,
             "rstrip": false, "normalized": false, "special": types[Int($0)] != .userDefined]
        }
    }

    /// The text of a token `spec` names, or an error naming `file` for an id outside the vocabulary.
    static func token(_ id: Int32, of spec: TokenizerSpec, file: String) throws -> String {
        guard spec.vocabulary.indices.contains(Int(id)) else {
            throw MopError(file: file, "special token id \(id) is outside the vocabulary of \(spec.vocabulary.count) tokens")
        }
        return spec.vocabulary[Int(id)]
    }

    /// The post-processor adding `spec`'s BOS before the text, nil when it adds none.
    static func bosTemplate(_ spec: TokenizerSpec, file: String) throws -> [String: Any]? {
        guard spec.addBos else { return nil }
        guard let bosId = spec.bosTokenId else { throw MopError(file: file, "addBos is set but there is no BOS token id") }
        let bos = try token(bosId, of: spec, file: file)
        func special(_ typeId: Int) -> [String: Any] { ["SpecialToken": ["id": bos, "type_id": typeId]] }
        func sequence(_ name: String, _ typeId: Int) -> [String: Any] { ["Sequence": ["id": name, "type_id": typeId]] }
        return ["type": "TemplateProcessing", "single": [special(0), sequence("A", 0)],
                "pair": [special(0), sequence("A", 0), special(1), sequence("B", 1)],
                "special_tokens": [bos: ["id": bos, "ids": [Int(bosId)], "tokens": [bos]]]]
    }

    /// A small JSON value, keys sorted so that output is reproducible.
    static func fragment(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value,
                                              options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `spec` as tokenizer.json at `path`, through a temporary file renamed into place when complete.
    public static func write(_ spec: TokenizerSpec, to path: String) throws {
        // AtomicFileWriter, not Foundation's .atomic: its temporary is one mop removes when stopped or faulted.
        try AtomicFileWriter.write(try data(for: spec, file: path), to: path)
    }

    private static func checkModelOptions(_ model: [String: Any], file: String) throws {
        let unsupported: [(key: String, isDefault: (Any) -> Bool)] = [
            ("dropout", { $0 is NSNull || ($0 as? Double) == 0 || ($0 as? Double) == 1 }),
            ("continuing_subword_prefix", { $0 is NSNull || ($0 as? String) == "" }),
            ("end_of_word_suffix", { $0 is NSNull || ($0 as? String) == "" }),
            ("byte_fallback", { ($0 as? Bool) == false }),
        ]
        for (key, isDefault) in unsupported {
            if let value = model[key], !isDefault(value) {
                throw MopError(file: file, "unsupported model.\(key) = \(describe(value))")
            }
        }
    }

    private static func place(_ token: String, at id: Int, in tokenForId: inout [Int: String], what: String,
                              file: String) throws {
        guard id >= 0, id < Int(Int32.max) else {
            throw MopError(file: file, "\(what) id \(id) of \"\(token)\" is out of range")
        }
        if let existing = tokenForId[id], !existing.unicodeScalars.elementsEqual(token.unicodeScalars) {
            throw MopError(file: file, "\(what) gives id \(id) to both \"\(existing)\" and \"\(token)\"")
        }
        tokenForId[id] = token
    }

    /// One entry of `added_tokens`.
    struct AddedToken {
        let id: Int32
        let content: String
        let isSpecial: Bool
        /// Matched in the normalized text rather than the raw text.
        let isNormalized: Bool
    }

    /// `model.vocab` as parsed, and the vocabulary in id order with the added tokens (HF allows ids beyond
    /// model.vocab), which are returned too. The entries are read from `data` itself: the parsed object would merge
    /// canonically equivalent spellings (`JSONExactReader`).
    static func vocabulary(_ root: [String: Any], model: [String: Any], data: Data, file: String) throws
        -> (vocab: [String: Any], vocabulary: [String], added: [AddedToken]) {
        guard let vocabObject = model["vocab"] as? [String: Any],
              let members = try JSONExactReader.integerMembers(Array(data), path: ["model", "vocab"], file: file) else {
            throw MopError(file: file, "missing model.vocab")
        }
        var tokenForId: [Int: String] = [:]
        for (token, id) in members {
            guard let id else { throw MopError(file: file, "model.vocab[\"\(token)\"] is not an integer id") }
            try place(token, at: id, in: &tokenForId, what: "model.vocab", file: file)
        }
        let added = try addedTokens(root["added_tokens"], into: &tokenForId, file: file)
        guard tokenForId.count <= Int(Int32.max) else { throw MopError(file: file, "vocabulary is too large") }
        var vocabulary: [String] = []
        vocabulary.reserveCapacity(tokenForId.count)
        for id in 0..<tokenForId.count {
            guard let token = tokenForId[id] else { throw MopError(file: file, "vocabulary has no token with id \(id)") }
            vocabulary.append(token)
        }
        return (vocabObject, vocabulary, added)
    }

    /// Adds the added tokens to the vocabulary and returns them.
    private static func addedTokens(_ value: Any?, into tokenForId: inout [Int: String], file: String) throws
        -> [AddedToken] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any] else { throw MopError(file: file, "added_tokens is not a list") }
        var tokens: [AddedToken] = []
        for (index, item) in list.enumerated() {
            guard let entry = item as? [String: Any], let id = entry["id"] as? Int,
                  let content = entry["content"] as? String, !content.isEmpty else {
                throw MopError(file: file, "added_tokens[\(index)] lacks an integer id or a non-empty content")
            }
            for flag in ["single_word", "lstrip", "rstrip"] where entry[flag] as? Bool == true {
                throw MopError(file: file, "unsupported \(flag) on added token \"\(content)\"")
            }
            try place(content, at: id, in: &tokenForId, what: "added_tokens", file: file)
            tokens.append(AddedToken(id: Int32(id), content: content, isSpecial: entry["special"] as? Bool == true,
                                     isNormalized: entry["normalized"] as? Bool ?? true))
        }
        return tokens
    }

    /// Merges in either form: "left right" strings, or ["left", "right"] pairs (tokenizers >= 0.20), read from `data`
    /// itself (`JSONExactReader`: Foundation's parser drops a leading U+FEFF).
    static func parseMerges(_ data: Data, file: String) throws -> [String] {
        guard let items = try JSONExactReader.stringLists(Array(data), path: ["model", "merges"], file: file) else {
            throw MopError(file: file, "missing model.merges")
        }
        return try items.enumerated().map { index, item in
            if let item, item.count == 1 { return item[0] }
            if let item, item.count == 2, !item[0].utf8.contains(0x20), !item[1].utf8.contains(0x20) {
                return item[0] + " " + item[1]
            }
            throw MopError(file: file, "model.merges[\(index)] is neither \"left right\" nor a pair of space-free strings")
        }
    }

    /// A JSON boolean that may be absent (false).
    static func flag(_ value: Any?, _ key: String, file: String) throws -> Bool {
        guard let value, !(value is NSNull) else { return false }
        guard let flag = value as? Bool else { throw MopError(file: file, "\(key) is not a boolean") }
        return flag
    }

    /// The split a pre_tokenizer describes: the ByteLevel regex alone or after individual Digits, or a LLaMA-3 style
    /// Split regex (matched against the spellings `llama3Pattern` writes) then ByteLevel without its regex.
    private static func splitShape(_ value: Any?, file: String) throws
        -> (pattern: PreTokenizerKind.Pattern, isolatesDigits: Bool) {
        let node = value as? [String: Any]
        if let node, isRegexByteLevel(node) { return (.gpt2, false) }
        if let node, node["type"] as? String == "Sequence", let steps = node["pretokenizers"] as? [[String: Any]] {
            if steps.count == 1, isRegexByteLevel(steps[0]) { return (.gpt2, false) }
            if steps.count == 2, steps[0]["type"] as? String == "Digits", steps[0]["individual_digits"] as? Bool == true,
               isRegexByteLevel(steps[1]) {
                return (.gpt2, true)
            }
            if steps.count == 2, steps[0]["type"] as? String == "Split",
               let regex = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String,
               let maxDigits = (1...3).first(where: { llama3Pattern(maxDigits: $0) == regex }),
               steps[0]["behavior"] as? String == "Isolated", steps[0]["invert"] as? Bool != true,
               steps[1]["type"] as? String == "ByteLevel", steps[1]["add_prefix_space"] as? Bool == false,
               steps[1]["use_regex"] as? Bool == false {
                return (.llama3(maxDigits: maxDigits), false)
            }
            // Several Split regexes then ByteLevel without its own: a successive row whose regexes they are.
            let regexes = steps.dropLast().map { step -> String? in
                guard step["type"] as? String == "Split", step["behavior"] as? String == "Isolated",
                      step["invert"] as? Bool != true else { return nil }
                return (step["pattern"] as? [String: Any])?["Regex"] as? String
            }
            if let last = steps.last, last["type"] as? String == "ByteLevel", last["use_regex"] as? Bool == false,
               last["add_prefix_space"] as? Bool == false,
               let row = PreTokenizerKind.all.first(where: { row in
                   guard case .successive(let rules) = row.pattern else { return false }
                   return rules.map(\.regex) == regexes
               }) {
                return (row.pattern, false)
            }
        }
        throw MopError(file: file, "unsupported pre_tokenizer \(describe(value ?? NSNull())); supported: ByteLevel "
            + "(use_regex, no prefix space), alone or after Digits(individual_digits), or the Qwen2 / LLaMA-3 Split "
            + "regex, or the DeepSeek or Falcon Split regexes, then ByteLevel without its regex")
    }

    /// The LLaMA-3 family's split regex as its tokenizer.json spells it (`PreTokenizer` scans it by hand): Qwen2's has
    /// single digits (`\p{N}`), LLaMA-3's runs of up to three (`\p{N}{1,3}`).
    static func llama3Pattern(maxDigits: Int) -> String {
        let digits = maxDigits == 1 ? #"\p{N}"# : #"\p{N}{1,"# + String(maxDigits) + "}"
        return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"# + digits
            + #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    }

    /// ByteLevel with its GPT-2 regex on and no added prefix space (HF's defaults: use_regex true, prefix space true).
    private static func isRegexByteLevel(_ node: [String: Any]) -> Bool {
        node["type"] as? String == "ByteLevel" && node["add_prefix_space"] as? Bool == false
            && (node["use_regex"] == nil || node["use_regex"] as? Bool == true)
    }

    /// The BOS id a post-processor adds before the text, nil when it adds nothing.
    static func templateBos(_ value: Any?, file: String) throws -> Int32? {
        guard let value, !(value is NSNull) else { return nil }
        let node = value as? [String: Any]
        switch node?["type"] as? String {
        case "ByteLevel":
            return nil
        case "Sequence":
            guard let steps = node?["processors"] as? [Any] else { break }
            let found = try steps.compactMap { try templateBos($0, file: file) }
            guard found.count <= 1 else { break }
            return found.first
        case "TemplateProcessing":
            guard let single = node?["single"] as? [[String: Any]] else { break }
            if single.count == 1, single[0]["Sequence"] != nil { return nil }
            guard single.count == 2, single[1]["Sequence"] != nil,
                  let name = (single[0]["SpecialToken"] as? [String: Any])?["id"] as? String,
                  let specials = node?["special_tokens"] as? [String: Any],
                  let ids = (specials[name] as? [String: Any])?["ids"] as? [Int], ids.count == 1,
                  let id = Int32(exactly: ids[0]) else { break }
            return id
        default:
            break
        }
        throw MopError(file: file, "unsupported post_processor \(describe(value)); supported: ByteLevel, or a template "
            + "that adds one BOS token before the text")
    }

    /// A short description of a JSON node for error messages: its type name and a bounded preview.
    static func describe(_ value: Any) -> String {
        let text: String
        if JSONSerialization.isValidJSONObject(value),
           let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]) {
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = "\(value)"
        }
        return text.count > 160 ? String(text.prefix(160)) + "..." : text
    }
}
