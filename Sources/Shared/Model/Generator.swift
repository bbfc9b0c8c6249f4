/// Text generation with a KV cache: the prompt is prefilled in one pass, then each step runs only the new token
/// through the model, attending to the cached keys and values.
public struct Generator: Sendable {
    public let model: Transformer

    public init(model: Transformer) {
        self.model = model
    }

    /// Runs `tokens` [T] at positions cache.count..<cache.count+T, extending the cache; returns the logits [V] of the
    /// last of them. `embeddings` [T, D], when given, are their input rows instead of the token embeddings (a
    /// prompt holding an image's features).
    public func step(_ tokens: [Int32], cache: inout KVCache, embeddings: [Float]? = nil) -> [Float] {
        precondition(!tokens.isEmpty && cache.count + tokens.count <= model.positions,
                     "generation past the model's \(model.positions) positions")
        let config = model.config, rows = tokens.count
        precondition(embeddings.map { $0.count == rows * config.hidden } ?? true, "embeddings of another length than the tokens")
        var x = embeddings ?? model.embed([tokens])
        // The cache is moved into a box the hooks share, never copied, so its appends stay in place.
        let box = CacheBox(config)
        swap(&box.cache, &cache)
        for index in config.layers.indices {
            let hooks = DecodeHooks(layer: model.weights.layers[index], index: index, shape: config.layers[index],
                                    headDim: config.headDim, rope: model.ropes[index], window: config.window(layer: index),
                                    box: box)
            model.runBlock(&x, layer: index, hooks: hooks)
        }
        swap(&box.cache, &cache)
        cache.advance(by: rows)
        let last = Array(x[((rows - 1) * config.hidden)...])
        return model.head(model.finalNorm(last))
    }

    /// Why a generation ended.
    public enum Stop: String, Encodable, Sendable {
        /// A stop token was made (and kept).
        case eos
        /// `maxNewTokens` tokens were made.
        case maxNewTokens = "max-new-tokens"
        /// The model's positions ran out first.
        case context
    }

    /// The tokens made after the prompt and why they stopped there.
    public struct Generation: Equatable, Sendable {
        public let tokens: [Int32]
        public let stop: Stop
    }

    /// Up to `maxNewTokens` (at least 1) tokens after `prompt` (not empty): fewer at a stop token, which is kept, or
    /// at the model's last position. `onToken` sees each token as it is made (streaming). Logits that are not finite
    /// end it with `ForwardOverflow`'s error naming `file`, rather than a token picked from NaN. `promptEmbeddings`
    /// replace the prompt's token embeddings when given (`step`).
    public func generate(prompt: [Int32], promptEmbeddings: [Float]? = nil, maxNewTokens: Int, sampler: TokenSampler,
                         stopTokens: Set<Int32>, file: String, onToken: (Int32) -> Void = { _ in }) throws -> Generation {
        precondition(!prompt.isEmpty && maxNewTokens > 0, "generation needs a prompt and room for a token")
        var sampler = sampler
        var cache = KVCache(config: model.config)
        // The last token is never fed back, so it needs no position of its own.
        let budget = min(maxNewTokens, model.positions - prompt.count + 1)
        var logits = step(prompt, cache: &cache, embeddings: promptEmbeddings)
        var generated: [Int32] = []
        while true {
            try ForwardOverflow.check(logits, file: file, at: "generated token \(generated.count + 1)") {
                model.firstNonFiniteLayer([prompt + generated])
            }
            let token = sampler.sample(logits)
            generated.append(token)
            onToken(token)
            if stopTokens.contains(token) { return Generation(tokens: generated, stop: .eos) }
            if generated.count == budget {
                return Generation(tokens: generated, stop: budget == maxNewTokens ? .maxNewTokens : .context)
            }
            logits = step([token], cache: &cache)
        }
    }
}

/// `Generator.step`'s hooks: the new tokens are rotated from the cache's position on, their keys and values
/// appended to the cache, and attention runs over every cached position.
private struct DecodeHooks: BlockHooks, FrozenProjections {
    let layer: LayerWeights
    let index: Int
    let shape: LayerShape
    let headDim: Int
    let rope: Rope
    let window: Attention.Window
    let box: CacheBox

    mutating func attend(q: inout [Float], k: inout [Float], v: [Float], rows: Int) -> [Float] {
        let start = box.cache.count
        q.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, tokens: rows, heads: shape.heads, startPosition: start) }
        k.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, tokens: rows, heads: shape.kvHeads, startPosition: start) }
        box.cache.store(layer: index, k: k, v: v)
        return box.cache.attend(layer: index, q: q, tokens: rows, heads: shape.heads, kvHeads: shape.kvHeads, headDim: headDim,
                            window: window)
    }
}

/// The KV cache of one decode step, shared by reference among the layers' hooks so that it is never copied.
private final class CacheBox {
    var cache: KVCache

    init(_ config: ModelConfig) { cache = KVCache(config: config) }
}
