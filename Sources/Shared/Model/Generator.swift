/// Text generation with a KV cache: the prompt is prefilled in one pass, then each step runs only the new token
/// through the model, attending to the cached keys and values.
public struct Generator: Sendable {
    public let model: Transformer

    public init(model: Transformer) {
        self.model = model
    }

    /// Runs `tokens` [T] at positions cache.count..<cache.count+T, extending the cache; returns the logits [V] of the
    /// last of them.
    public func step(_ tokens: [Int32], cache: inout KVCache) -> [Float] {
        precondition(!tokens.isEmpty && cache.count + tokens.count <= model.rope.positions,
                     "generation past the model's \(model.rope.positions) positions")
        let config = model.config, rows = tokens.count
        var x = model.embed([tokens])
        var hooks = DecodeHooks(layer: model.weights.layers[0], index: 0, shape: config.layers[0],
                                headDim: config.headDim, rope: model.rope, cache: KVCache(config: config))
        // The cache is swapped into the hooks and back, never shared, so its appends stay in place.
        swap(&cache, &hooks.cache)
        for (index, shape) in config.layers.enumerated() {
            (hooks.layer, hooks.index, hooks.shape) = (model.weights.layers[index], index, shape)
            BlockForward.run(&x, layer: hooks.layer, eps: config.rmsNormEps, hooks: &hooks)
        }
        swap(&cache, &hooks.cache)
        cache.advance(by: rows)
        let last = Array(x[((rows - 1) * config.hidden)...])
        let normed = RMSNorm.forward(last, rows: 1, weight: model.weights.finalNorm, eps: config.rmsNormEps)
        return BLAS.linear(normed, rows: 1, model.weights.outputMatrix)
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
    /// end it with `ForwardOverflow`'s error naming `file`, rather than a token picked from NaN.
    public func generate(prompt: [Int32], maxNewTokens: Int, sampler: TokenSampler, stopTokens: Set<Int32>, file: String,
                         onToken: (Int32) -> Void = { _ in }) throws -> Generation {
        precondition(!prompt.isEmpty && maxNewTokens > 0, "generation needs a prompt and room for a token")
        var sampler = sampler
        var cache = KVCache(config: model.config)
        // The last token is never fed back, so it needs no position of its own.
        let budget = min(maxNewTokens, model.rope.positions - prompt.count + 1)
        var logits = step(prompt, cache: &cache)
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
    var layer: LayerWeights
    var index: Int
    var shape: LayerShape
    let headDim: Int
    let rope: Rope
    var cache: KVCache

    mutating func attend(q: inout [Float], k: inout [Float], v: [Float], rows: Int) -> [Float] {
        let start = cache.count
        q.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, tokens: rows, heads: shape.heads, startPosition: start) }
        k.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, tokens: rows, heads: shape.kvHeads, startPosition: start) }
        cache.store(layer: index, k: k, v: v)
        return cache.attend(layer: index, q: q, tokens: rows, heads: shape.heads, kvHeads: shape.kvHeads, headDim: headDim)
    }
}
