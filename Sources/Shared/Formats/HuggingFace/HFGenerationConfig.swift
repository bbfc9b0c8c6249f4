import Foundation

/// Hugging Face `generation_config.json`: the token ids `generate` starts with, stops at and pads with. transformers
/// reads these ids from here, not from tokenizer_config.json, so an export states them in both.
public struct HFGenerationConfig: Equatable, Sendable {
    public static let fileName = "generation_config.json"

    /// BOS and the EOS ids (transformers allows a list of them).
    public var tokens: HFSpecialTokenIds
    public var padTokenId: Int?

    public init(tokens: HFSpecialTokenIds = HFSpecialTokenIds(), padTokenId: Int? = nil) {
        self.tokens = tokens
        self.padTokenId = padTokenId
    }

    /// The ids `spec` knows.
    public init(spec: TokenizerSpec) {
        self.init(tokens: HFSpecialTokenIds(bos: spec.bosTokenId.map(Int.init), eos: spec.eosTokenId.map { [Int($0)] } ?? []),
                  padTokenId: spec.padTokenId.map(Int.init))
    }

    /// True when the file would state nothing.
    public var isEmpty: Bool { tokens == HFSpecialTokenIds() && padTokenId == nil }

    /// Parses generation_config.json content; `file` names it in errors. bos/eos are read as in config.json.
    public static func parse(_ data: Data, file: String) throws -> HFGenerationConfig {
        let tokens = try HFConfig.parseSpecialTokens(data: data, file: file)
        let fields = try JSONFields(data: data, file: file)
        return HFGenerationConfig(tokens: tokens, padTokenId: try fields.optionalInt("pad_token_id"))
    }

    /// generation_config.json content, keys sorted so that output is reproducible.
    public func data() -> Data {
        var object: [String: Any] = [:]
        if let bos = tokens.bos { object["bos_token_id"] = bos }
        if tokens.eos.count == 1 {
            object["eos_token_id"] = tokens.eos[0]
        } else if !tokens.eos.isEmpty {
            object["eos_token_id"] = tokens.eos
        }
        if let padTokenId { object["pad_token_id"] = padTokenId }
        // Only integers: always serialisable.
        return try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
    }
}
