import Foundation

/// Measures the forward pass against the rate `cblas_sgemm` reaches on exactly the products the pass performs
/// (`SgemmBound`), timed in the same process with the same threads. The ratio shows how much the non-product work
/// (norms, RoPE, softmax, SwiGLU, copies) costs on top of the products.
public enum ForwardBenchmark {
    /// The products are listed from the model's shapes (not recorded), so a test can check them against the
    /// pass's FLOP count by formula.
    public typealias Product = SgemmBound.Product

    /// The products of one scoring forward pass (hidden states, then next-token loss) over one sequence of T tokens.
    public static func products(_ config: ModelConfig, tokens t: Int, headChunk: Int = NextTokenLoss.chunkRows) -> [Product] {
        blockProducts(config, tokens: t) + headProducts(config, tokens: t, chunk: headChunk)
    }

    /// The blocks' share of `products`: every layer's projections and attention.
    public static func blockProducts(_ config: ModelConfig, tokens t: Int) -> [Product] {
        let d = config.hidden, hd = config.headDim
        var products: [Product] = []
        let queryBlocks = Attention.queryBlocks(tokens: t)
        for layer in config.layers {
            products += [
                Product(m: t, n: layer.heads * hd, k: d, repeats: 1),         // q
                Product(m: t, n: layer.kvHeads * hd, k: d, repeats: 2),       // k, v
            ]
            for block in queryBlocks {
                products += [
                    Product(m: block.rows, n: block.seen, k: hd, repeats: layer.heads),                     // scores
                    Product(m: block.rows, n: hd, k: block.seen, repeats: layer.heads, transposedB: false),  // scores . v
                ]
            }
            products += [
                Product(m: t, n: d, k: layer.heads * hd, repeats: 1),         // o
                Product(m: t, n: layer.intermediate, k: d, repeats: 2),       // gate, up
                Product(m: t, n: d, k: layer.intermediate, repeats: 1),       // down
            ]
        }
        return products
    }

    /// The output matrix's share of `products`: logits of the T - 1 scored rows, `chunk` at a time.
    public static func headProducts(_ config: ModelConfig, tokens t: Int, chunk: Int = NextTokenLoss.chunkRows) -> [Product] {
        let d = config.hidden
        var products: [Product] = []
        let scored = t - 1
        if scored / chunk > 0 { products.append(Product(m: chunk, n: config.vocabSize, k: d, repeats: scored / chunk)) }
        if scored % chunk > 0 { products.append(Product(m: scored % chunk, n: config.vocabSize, k: d, repeats: 1)) }
        return products
    }

    public struct Result: Encodable, Sendable {
        public let threads: Int
        public let tokens: Int
        public let forwardSeconds: Double
        public let tokensPerSecond: Double
        public let forwardGflops: Double
        public let sgemmGflops: Double
        /// forwardGflops / sgemmGflops.
        public let ratio: Double
    }

    /// Best of `runs` timings of the forward pass and of the same products through sgemm alone, taken in turns.
    public static func run(_ model: Transformer, tokens: [Int32], runs: Int) -> Result {
        let products = products(model.config, tokens: tokens.count, headChunk: NextTokenLoss.chunkRows(for: model.weights.head))
        let flops = products.reduce(0) { $0 + $1.flops }
        _ = NextTokenLoss.sum(model, batch: [tokens])  // warm-up: page in the weights, start BLAS threads
        let (forward, sgemm) = SgemmBound.bestOf(runs, work: { _ = NextTokenLoss.sum(model, batch: [tokens]) }, products: products)
        return Result(threads: BLAS.threads, tokens: tokens.count, forwardSeconds: forward,
                      tokensPerSecond: Double(tokens.count) / forward, forwardGflops: flops / forward / 1e9,
                      sgemmGflops: flops / sgemm / 1e9, ratio: sgemm / forward)
    }
}
