import Foundation

/// Measures the forward pass against the rate `cblas_sgemm` reaches on exactly the products the pass performs,
/// timed in the same process with the same threads. The ratio shows how much the non-product work (norms, RoPE,
/// softmax, SwiGLU, copies) costs on top of the products.
public enum ForwardBenchmark {
    /// One matrix product C[m, n] = A[m, k] B of the pass, `repeats` times; B is [n, k] (a weight, as in linear
    /// layers) when `transposedB`, else [k, n].
    public struct Product: Equatable, Sendable {
        public let m: Int, n: Int, k: Int, repeats: Int
        public var transposedB = true
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(repeats) }
    }

    /// The products of one scoring forward pass (hidden states, then next-token loss) over one sequence of T tokens.
    public static func products(_ config: ModelConfig, tokens t: Int) -> [Product] {
        let d = config.hidden, hd = config.headDim
        var products: [Product] = []
        for layer in config.layers {
            products += [
                Product(m: t, n: layer.heads * hd, k: d, repeats: 1),         // q
                Product(m: t, n: layer.kvHeads * hd, k: d, repeats: 2),       // k, v
                Product(m: t, n: t, k: hd, repeats: layer.heads),             // scores
                Product(m: t, n: hd, k: t, repeats: layer.heads, transposedB: false),  // scores . v
                Product(m: t, n: d, k: layer.heads * hd, repeats: 1),         // o
                Product(m: t, n: layer.intermediate, k: d, repeats: 2),       // gate, up
                Product(m: t, n: d, k: layer.intermediate, repeats: 1),       // down
            ]
        }
        let scored = t - 1, chunk = NextTokenLoss.chunkRows
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

    /// Best of `runs` timings of the forward pass and of the same products through sgemm alone.
    public static func run(_ model: Transformer, tokens: [Int32], runs: Int) -> Result {
        let products = products(model.config, tokens: tokens.count)
        let flops = products.reduce(0) { $0 + $1.flops }
        _ = NextTokenLoss.sum(model, batch: [tokens])  // warm-up: page in the weights, start BLAS threads
        let forward = (0..<runs).map { _ in time { _ = NextTokenLoss.sum(model, batch: [tokens]) } }.min()!
        let sgemm = (0..<runs).map { _ in timeProducts(products) }.min()!
        return Result(threads: BLAS.threads, tokens: tokens.count, forwardSeconds: forward,
                      tokensPerSecond: Double(tokens.count) / forward, forwardGflops: flops / forward / 1e9,
                      sgemmGflops: flops / sgemm / 1e9, ratio: sgemm / forward)
    }

    /// Seconds sgemm takes for the products, on buffers of the right sizes allocated outside the timing.
    static func timeProducts(_ products: [Product]) -> Double {
        let largest = products.map { max($0.m * $0.k, $0.k * $0.n, $0.m * $0.n) }.max() ?? 0
        var rng = SeededRandom(seed: 1)
        let a = (0..<largest).map { _ in rng.uniform(1) }, b = (0..<largest).map { _ in rng.uniform(1) }
        var c = [Float](repeating: 0, count: largest)
        return a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    time {
                        for p in products {
                            for _ in 0..<p.repeats {
                                if p.transposedB {
                                    BLAS.gemmTransposedB(m: p.m, n: p.n, k: p.k, a: ap.baseAddress!, lda: p.k,
                                                         b: bp.baseAddress!, ldb: p.k, c: cp.baseAddress!, ldc: p.n)
                                } else {
                                    BLAS.gemm(m: p.m, n: p.n, k: p.k, a: ap.baseAddress!, lda: p.k,
                                              b: bp.baseAddress!, ldb: p.n, c: cp.baseAddress!, ldc: p.n)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
