import XCTest
@testable import Shared

final class SgemmBoundTests: XCTestCase {
    func testRecordingNotesEveryProductMergingConsecutiveRepeats() {
        let x = [Float](repeating: 1, count: 5 * 7), w = Tensor(shape: [3, 7], data: [Float](repeating: 2, count: 21))
        var c = [Float](repeating: 0, count: 64)
        let (y, products) = SgemmBound.recording { () -> [Float] in
            let first = BLAS.linear(x, rows: 5, w)
            _ = BLAS.linear(x, rows: 5, w)
            x.withUnsafeBufferPointer { xp in
                c.withUnsafeMutableBufferPointer { cp in
                    // C[7, 7] = x[5, 7]^T . x[5, 7], then C[5, 5] = x[5, 7] . x[7, 5]
                    BLAS.gemmTransposedA(m: 7, n: 7, k: 5, a: xp.baseAddress!, lda: 7, b: xp.baseAddress!, ldb: 7,
                                         c: cp.baseAddress!, ldc: 7)
                    BLAS.gemm(m: 5, n: 5, k: 7, a: xp.baseAddress!, lda: 7, b: xp.baseAddress!, ldb: 5,
                              c: cp.baseAddress!, ldc: 5)
                }
            }
            return first
        }
        XCTAssertEqual(y, [Float](repeating: 14, count: 15))
        XCTAssertEqual(products, [
            SgemmBound.Product(m: 5, n: 3, k: 7, repeats: 2),
            SgemmBound.Product(m: 7, n: 7, k: 5, repeats: 1, transposedA: true, transposedB: false),
            SgemmBound.Product(m: 5, n: 5, k: 7, repeats: 1, transposedB: false),
        ])
        let flops: Double = 2 * (2 * 5 * 3 * 7) + 2 * 7 * 7 * 5 + 2 * 5 * 5 * 7
        XCTAssertEqual(products.reduce(0) { $0 + $1.flops }, flops)
        // Outside a recording nothing is kept: a second recording starts empty.
        _ = BLAS.linear(x, rows: 5, w)
        XCTAssertEqual(SgemmBound.recording { () }.products, [])
    }

    /// The forward benchmark lists its products from the shapes; they must be the products the pass really makes.
    /// The sequence is longer than one attention query block, so the blocks' products are checked too.
    func testForwardBenchmarkListsTheProductsThePassMakes() {
        let shapes = TinyConfigs.nonUniform, length = Attention.queryBlock + 44
        let config = ModelConfig(vocabSize: shapes.vocabSize, hidden: shapes.hidden, headDim: shapes.headDim,
                                 layers: shapes.layers, tiedEmbeddings: true, maxPositions: length)
        let model = Transformer(weights: ModelWeights.random(config: config, seed: 2))
        let tokens = TinyConfigs.tokens(count: length, vocab: config.vocabSize, seed: 3)
        let recorded = SgemmBound.recording { _ = NextTokenLoss.sum(model, batch: [tokens]) }.products
        let listed = ForwardBenchmark.products(model.config, tokens: tokens.count)
        XCTAssertEqual(recorded.reduce(0) { $0 + $1.flops }, listed.reduce(0) { $0 + $1.flops })
        XCTAssertEqual(recorded.reduce(0) { $0 + $1.repeats }, listed.reduce(0) { $0 + $1.repeats })
    }

    func testSecondsTimesEveryKindOfProduct() {
        let products = [SgemmBound.Product(m: 64, n: 32, k: 16, repeats: 3),
                        SgemmBound.Product(m: 16, n: 64, k: 32, repeats: 2, transposedA: true, transposedB: false),
                        SgemmBound.Product(m: 32, n: 16, k: 64, repeats: 1, transposedB: false)]
        XCTAssertGreaterThan(SgemmBound.seconds(products), 0)
        XCTAssertEqual(SgemmBound.seconds([]), 0, accuracy: 1e-3)
    }
}
