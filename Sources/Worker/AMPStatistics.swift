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
            for segment in segments where !segment.isEmpty {
                var total = 0.0
                for t in segment {
                    var norm: Float = 0
                    for i in (t * d)..<((t + 1) * d) { norm += abs(contribution[i]) }
                    total += Double(norm)
                }
                headSums[layer][n] += total / Double(segment.count)
            }
        }
    }

    /// Neuron m's activation is a[t, m], the input of down_proj.
    public func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) {
        let width = weights.config.layers[layer].intermediate
        var perPrompt = [Double](repeating: 0, count: width)
        for segment in segments where !segment.isEmpty {
            for m in 0..<width { perPrompt[m] = 0 }
            for t in segment {
                for m in 0..<width { perPrompt[m] += Double(abs(a[t * width + m])) }
            }
            for m in 0..<width { neuronSums[layer][m] += perPrompt[m] / Double(segment.count) }
        }
    }
}
