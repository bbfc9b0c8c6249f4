import Foundation
import Synchronization

/// The speed bound of mop's benchmarks: `cblas_sgemm` timed alone on exactly the products some measured work made,
/// in the same process with the same threads. Work that only multiplied matrices would reach the bound; the ratio
/// of the work's GFLOP/s to it shows what everything else (norms, softmax, copies, allocation) costs.
public enum SgemmBound {
    /// C[m, n] = op(A) op(B), `repeats` times, with A [m, k] (or [k, m] when `transposedA`) and B [n, k] (a weight,
    /// as in linear layers) when `transposedB`, else [k, n].
    public struct Product: Hashable, Sendable {
        public let m: Int, n: Int, k: Int
        public var repeats: Int
        public var transposedA = false
        public var transposedB = true

        public init(m: Int, n: Int, k: Int, repeats: Int, transposedA: Bool = false, transposedB: Bool = true) {
            (self.m, self.n, self.k, self.repeats) = (m, n, k, repeats)
            self.transposedA = transposedA
            self.transposedB = transposedB
        }

        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(repeats) }

        /// Whether `other` is the same product (shapes and transposes), whatever the repeats.
        func sameShape(_ other: Product) -> Bool {
            (m, n, k, transposedA, transposedB) == (other.m, other.n, other.k, other.transposedA, other.transposedB)
        }
    }

    /// The products made while a recording runs (nil when none does). Calls from any thread are noted.
    private static let log = Mutex<[Product]?>(nil)

    /// Runs `body` and returns what it returned with every product it made through `BLAS`, in call order
    /// (consecutive equal shapes merged into one entry with repeats). Recordings do not nest.
    public static func recording<T>(_ body: () throws -> T) rethrows -> (result: T, products: [Product]) {
        log.withLock { precondition($0 == nil, "SgemmBound.recording does not nest"); $0 = [] }
        defer { log.withLock { $0 = nil } }
        let result = try body()
        return (result, log.withLock { $0 ?? [] })
    }

    /// Called by `BLAS` for every product.
    static func note(m: Int, n: Int, k: Int, transposedA: Bool, transposedB: Bool) {
        log.withLock { products in
            guard products != nil else { return }
            let product = Product(m: m, n: n, k: k, repeats: 1, transposedA: transposedA, transposedB: transposedB)
            if let last = products!.last, last.sameShape(product) {
                products![products!.count - 1].repeats += 1
            } else {
                products!.append(product)
            }
        }
    }

    /// Seconds sgemm takes for the products, on packed buffers of the right sizes allocated outside the timing.
    public static func seconds(_ products: [Product]) -> Double {
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
                                BLAS.sgemm(transposedA: p.transposedA, transposedB: p.transposedB, m: p.m, n: p.n, k: p.k,
                                           alpha: 1, a: ap.baseAddress!, lda: p.transposedA ? p.m : p.k,
                                           b: bp.baseAddress!, ldb: p.transposedB ? p.k : p.n,
                                           beta: 0, c: cp.baseAddress!, ldc: p.n)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The best of `runs` timings of `work` and of `products` through sgemm, taken in turns (work, sgemm, work, ...)
    /// so that both meet the same load of a shared machine.
    public static func bestOf(_ runs: Int, work: () throws -> Void, products: [Product]) rethrows
        -> (work: Double, sgemm: Double) {
        var best = (work: Double.infinity, sgemm: Double.infinity)
        for _ in 0..<runs {
            best.work = min(best.work, try time(work))
            best.sgemm = min(best.sgemm, seconds(products))
        }
        return best
    }

    /// Wall-clock seconds of `body`.
    public static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
