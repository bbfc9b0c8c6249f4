/// A frozen linear layer W [out, in] with an optional LoRA branch:
/// y[N, out] = x W^T + scale * (drop(x) A^T) B^T, with A [r, in] and B [out, r] read from the flat parameter buffer.
/// Dropout (PEFT semantics) touches only the branch input; its mask is drawn from `dropoutSeed`, so recomputing the
/// forward during the backward pass draws the same mask.
public struct LoRALinear: Sendable {
    public let weight: Tensor
    public let entry: LoRALayout.Entry?
    public let scale: Float
    /// Probability of zeroing a branch input element; 0 at evaluation.
    public let dropout: Float
    public let dropoutSeed: UInt64

    public init(weight: Tensor, entry: LoRALayout.Entry?, scale: Float, dropout: Float = 0, dropoutSeed: UInt64 = 0) {
        self.weight = weight
        self.entry = entry
        self.scale = scale
        self.dropout = dropout
        self.dropoutSeed = dropoutSeed
    }

    /// What the backward pass needs besides x: the branch input after dropout (nil when dropout is off: it is x)
    /// and u = drop(x) A^T [N, r].
    public struct Saved: Sendable {
        public var droppedInput: [Float]?
        public var u: [Float]
    }

    /// y [N, out] and, when the layer is adapted, the branch activations its backward needs.
    public func forward(_ x: [Float], rows: Int, parameters: [Float]) -> (y: [Float], saved: Saved?) {
        var y = BLAS.linear(x, rows: rows, weight)
        guard let entry else { return (y, nil) }
        let r = entry.a.count / entry.inFeatures
        let dropped = dropout > 0 ? droppedCopy(x) : nil
        var u = [Float](repeating: 0, count: rows * r)
        (dropped ?? x).withUnsafeBufferPointer { xp in
            parameters.withUnsafeBufferPointer { p in
                u.withUnsafeMutableBufferPointer { up in
                    y.withUnsafeMutableBufferPointer { yp in
                        // u[N, r] = drop(x)[N, in] . A[r, in]^T
                        BLAS.gemmTransposedB(m: rows, n: r, k: entry.inFeatures, a: xp.baseAddress!, lda: entry.inFeatures,
                                             b: p.baseAddress! + entry.a.lowerBound, ldb: entry.inFeatures,
                                             c: up.baseAddress!, ldc: r)
                        // y[N, out] += scale * u[N, r] . B[out, r]^T
                        BLAS.gemmTransposedB(m: rows, n: entry.outFeatures, k: r, alpha: scale, a: up.baseAddress!, lda: r,
                                             b: p.baseAddress! + entry.b.lowerBound, ldb: r,
                                             beta: 1, c: yp.baseAddress!, ldc: entry.outFeatures)
                    }
                }
            }
        }
        return (y, Saved(droppedInput: dropped, u: u))
    }

    /// Given dy [N, out]: dx [N, in] += dy W + mask * scale * (dy B) A, and into `gradients` (same layout as the
    /// parameters) dA += scale * (dy B)^T drop(x), dB += scale * dy^T u. dx accumulates because q, k and v (and gate
    /// and up) share their input.
    public func backward(dy: [Float], x: [Float], saved: Saved?, rows: Int, parameters: [Float],
                         dx: inout [Float], gradients: inout [Float]) {
        let out = weight.rows, inner = weight.cols
        // dx[N, in] += dy[N, out] . W[out, in]
        BLAS.multiply(dy, rows: rows, by: weight, into: &dx, accumulate: true)
        guard let entry, let saved else { return }
        let r = entry.a.count / entry.inFeatures
        var du = [Float](repeating: 0, count: rows * r)
        dy.withUnsafeBufferPointer { dyp in
            parameters.withUnsafeBufferPointer { p in
                gradients.withUnsafeMutableBufferPointer { g in
                    du.withUnsafeMutableBufferPointer { dup in
                        saved.u.withUnsafeBufferPointer { up in
                            (saved.droppedInput ?? x).withUnsafeBufferPointer { xp in
                                // dB[out, r] += scale * dy[N, out]^T . u[N, r]
                                BLAS.gemmTransposedA(m: out, n: r, k: rows, alpha: scale, a: dyp.baseAddress!, lda: out,
                                                     b: up.baseAddress!, ldb: r, beta: 1,
                                                     c: g.baseAddress! + entry.b.lowerBound, ldc: r)
                                // du[N, r] = scale * dy[N, out] . B[out, r]
                                BLAS.gemm(m: rows, n: r, k: out, alpha: scale, a: dyp.baseAddress!, lda: out,
                                          b: p.baseAddress! + entry.b.lowerBound, ldb: r, c: dup.baseAddress!, ldc: r)
                                // dA[r, in] += du[N, r]^T . drop(x)[N, in]
                                BLAS.gemmTransposedA(m: r, n: inner, k: rows, a: dup.baseAddress!, lda: r,
                                                     b: xp.baseAddress!, ldb: inner, beta: 1,
                                                     c: g.baseAddress! + entry.a.lowerBound, ldc: inner)
                            }
                        }
                    }
                }
            }
        }
        // d drop(x)[N, in] = du[N, r] . A[r, in]; without dropout it is added straight into dx, with dropout it goes
        // through the forward's mask and 1/(1-p) factor first.
        var dBranch = [Float](repeating: 0, count: dropout > 0 ? rows * inner : 0)
        du.withUnsafeBufferPointer { dup in
            parameters.withUnsafeBufferPointer { p in
                dx.withUnsafeMutableBufferPointer { dxp in
                    dBranch.withUnsafeMutableBufferPointer { dbp in
                        BLAS.gemm(m: rows, n: inner, k: r, a: dup.baseAddress!, lda: r, b: p.baseAddress! + entry.a.lowerBound,
                                  ldb: inner, beta: dropout > 0 ? 0 : 1, c: dropout > 0 ? dbp.baseAddress! : dxp.baseAddress!,
                                  ldc: inner)
                        if dropout > 0 { applyDropout(dbp.baseAddress!, count: dbp.count, to: dxp.baseAddress!, accumulate: true) }
                    }
                }
            }
        }
    }

    /// x with each element zeroed with probability `dropout` and the survivors scaled by 1/(1-dropout).
    func droppedCopy(_ x: [Float]) -> [Float] {
        var result = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            result.withUnsafeMutableBufferPointer { rp in
                applyDropout(xp.baseAddress!, count: xp.count, to: rp.baseAddress!, accumulate: false)
            }
        }
        return result
    }

    /// destination[i] = (or +=) mask[i] * source[i], the mask 0 or 1/(1-dropout) (all 1/(1-0) = 1 without dropout).
    /// The mask depends only on the seed and the element index, never on the values: element i is dropped when
    /// 32 bits of SplitMix64's output i/2 (the low half for even i, the high half for odd i) fall below
    /// dropout x 2^32. Drawing each output from its index lets the threads draw disjoint pieces of one mask.
    func applyDropout(_ source: UnsafePointer<Float>, count: Int, to destination: UnsafeMutablePointer<Float>,
                      accumulate: Bool) {
        let threshold = UInt64((Double(dropout) * 4_294_967_296).rounded())
        let factor = Float(1 / (1 - Double(dropout))), seed = dropoutSeed
        let from = SendablePointer(UnsafeMutablePointer(mutating: source)), to = SendablePointer(destination)
        let pairsPerPiece = 8192, pairs = (count + 1) / 2
        VectorMath.parallelFor((pairs + pairsPerPiece - 1) / pairsPerPiece) { piece in
            @inline(__always) func apply(_ i: Int, _ half: UInt64) {
                let value = half < threshold ? 0 : from.pointer[i] * factor
                to.pointer[i] = accumulate ? to.pointer[i] + value : value
            }
            for pair in (piece * pairsPerPiece)..<min(pairs, (piece + 1) * pairsPerPiece) {
                let bits = SeededRandom.output(seed: seed, index: UInt64(pair))
                apply(2 * pair, bits & 0xFFFF_FFFF)
                if 2 * pair + 1 < count { apply(2 * pair + 1, bits >> 32) }
            }
        }
    }

    /// The seed of one adapter's dropout mask at one step: distinct for every (step seed, layer, target).
    public static func dropoutSeed(step: UInt64, layer: Int, target: LoRATarget) -> UInt64 {
        let targetIndex = UInt64(LoRATarget.allCases.firstIndex(of: target) ?? 0)
        var rng = SeededRandom(seed: step ^ (UInt64(layer) &* 0x1000_0000_01B3) ^ (targetIndex &* 0x9E37_79B9))
        return rng.next()
    }
}
