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
        let config = model.config, rows = tokens.count, hd = config.headDim
        var x = model.embed([tokens])
        for (index, shape) in config.layers.enumerated() {
            let layer = model.weights.layers[index]
            let h = RMSNorm.forward(x, rows: rows, weight: layer.attentionNorm, eps: config.rmsNormEps)
            var q = BLAS.linear(h, rows: rows, layer.q)   // [T, H*hd]
            var k = BLAS.linear(h, rows: rows, layer.k)   // [T, KV*hd]
            let v = BLAS.linear(h, rows: rows, layer.v)   // [T, KV*hd]
            q.withUnsafeMutableBufferPointer {
                model.rope.apply($0.baseAddress!, tokens: rows, heads: shape.heads, startPosition: cache.count)
            }
            k.withUnsafeMutableBufferPointer {
                model.rope.apply($0.baseAddress!, tokens: rows, heads: shape.kvHeads, startPosition: cache.count)
            }
            cache.store(layer: index, k: k, v: v)
            let z = cache.attend(layer: index, q: q, tokens: rows, heads: shape.heads, kvHeads: shape.kvHeads, headDim: hd)
            model.addLinear(z, rows: rows, weight: layer.o, into: &x)
            let h2 = RMSNorm.forward(x, rows: rows, weight: layer.mlpNorm, eps: config.rmsNormEps)
            model.addLinear(model.swiGLU(h2, rows: rows, layer: layer), rows: rows, weight: layer.down, into: &x)
        }
        cache.advance(by: rows)
        let last = Array(x[((rows - 1) * config.hidden)...])
        let normed = RMSNorm.forward(last, rows: 1, weight: model.weights.finalNorm, eps: config.rmsNormEps)
        return BLAS.linear(normed, rows: 1, model.weights.outputMatrix)
    }

    /// Up to `maxNewTokens` tokens after `prompt` (fewer at a stop token, which is kept, or at the model's last
    /// position). `onToken` sees each token as it is made (streaming).
    public func generate(prompt: [Int32], maxNewTokens: Int, sampler: TokenSampler, stopTokens: Set<Int32>,
                         onToken: (Int32) -> Void = { _ in }) -> [Int32] {
        guard !prompt.isEmpty, maxNewTokens > 0 else { return [] }
        var sampler = sampler
        var cache = KVCache(config: model.config)
        let budget = min(maxNewTokens, model.rope.positions - prompt.count + 1)
        var logits = step(prompt, cache: &cache)
        var generated: [Int32] = []
        while generated.count < budget {
            let token = sampler.sample(logits)
            generated.append(token)
            onToken(token)
            if stopTokens.contains(token) || generated.count == budget { break }
            logits = step([token], cache: &cache)
        }
        return generated
    }
}
