import Shared

/// Collects the AMP statistics of docs/design.md#amp-width-pruning during a forward pass over calibration prompts (one
/// prompt per sequence): per prompt, the mean over its tokens of each head's L1 contribution to the residual stream and
/// of each neuron's |activation|; summed over prompts here, divided by the prompt count (over all ranks) by
/// `AMPScores`.
public final class AMPStatistics: ForwardObserver {
    private let weights: ModelWeights
    public private(set) var headSums: [[Double]]
    public private(set) var neuronSums: [[Double]]

    public init(weights: ModelWeights) {
        self.weights = weights
        headSums = weights.config.layers.map { [Double](repeating: 0, count: $0.heads) }
        neuronSums = weights.config.layers.map { [Double](repeating: 0, count: $0.intermediate) }
    }

    /// The sums seen so far, packed (`AMPScores.pack`) with `prompts` as the prompt count: a pipeline stage that
    /// saw only its own blocks gives 0 prompts unless it is the one stage that counts them.
    public func packed(prompts: Int) -> [Double] {
        AMPScores.pack(headSums: headSums, neuronSums: neuronSums, prompts: prompts)
    }

    /// Head n adds c_n[t] = z[t, n*hd..<(n+1)*hd] . W_O[:, n*hd..<(n+1)*hd]^T (a D-vector) to the residual stream.
    public func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>]) {
        let config = weights.config, hd = config.headDim, d = config.hidden
        let heads = config.layers[layer].heads, width = heads * hd
        let rows = z.count / width
        let o = weights.layers[layer][.o]!.data  // [D, H*hd], decoded once per call when kept as stored
        var contribution = [Float](repeating: 0, count: rows * d)  // [N, D] for one head
        for n in 0..<heads {
            z.withUnsafeBufferPointer { zp in
                o.withUnsafeBufferPointer { op in
                    contribution.withUnsafeMutableBufferPointer { cp in
                        BLAS.gemmTransposedB(m: rows, n: d, k: hd, a: zp.baseAddress! + n * hd, lda: width,
                                             b: op.baseAddress! + n * hd, ldb: width, c: cp.baseAddress!, ldc: d)
                    }
                }
            }
            contribution.withUnsafeBufferPointer { cp in
                for segment in segments where !segment.isEmpty {
                    var total = 0.0
                    for t in segment { total += Double(Self.absoluteSum(cp.baseAddress! + t * d, count: d)) }
                    headSums[layer][n] += total / Double(segment.count)
                }
            }
        }
    }

    /// sum |x[i]| for i < count, element i added into lane i % 16 and the lanes summed at the end (a fixed order:
    /// the same value on any CPU).
    static func absoluteSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            lanes += v.replacing(with: -v, where: v .< 0)
            i += 16
        }
        var tail: Float = 0
        while i < count {
            tail += abs(x[i])
            i += 1
        }
        return lanes.sum() + tail
    }

    /// Neuron m's activation is a[t, m], the input of down_proj.
    public func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) {
        let width = weights.config.layers[layer].intermediate
        var perPrompt = [Double](repeating: 0, count: width)
        a.withUnsafeBufferPointer { ap in
            perPrompt.withUnsafeMutableBufferPointer { sums in
                for segment in segments where !segment.isEmpty {
                    for m in 0..<width { sums[m] = 0 }
                    for t in segment {
                        let row = ap.baseAddress! + t * width
                        for m in 0..<width { sums[m] += Double(abs(row[m])) }
                    }
                    for m in 0..<width { neuronSums[layer][m] += sums[m] / Double(segment.count) }
                }
            }
        }
    }
}
