import Foundation

/// KL(reference || model) of the next-token distributions, summed in float64 over the scored positions: the `kl`
/// selection of the search compares a candidate's predictions with the dense model's.
public enum NextTokenKL {
    /// `referenceHidden` and `hidden` are the final hidden states [N, D] of the same batch under the two models; both
    /// share the output matrix (pruning never touches the embeddings).
    public static func sum(referenceHidden: [Float], hidden: [Float], targets: [NextTokenLoss.Target], output: OutputHead) -> Double {
        let vocab = output.rows
        var total = 0.0
        NextTokenLoss.forEachChunk(of: targets) { chunk in
            var reference = NextTokenLoss.logits(hidden: referenceHidden, targets: chunk, output: output)
            var model = NextTokenLoss.logits(hidden: hidden, targets: chunk, output: output)
            var divergences = [Double](repeating: 0, count: chunk.count)
            reference.withUnsafeMutableBufferPointer { rp in
                model.withUnsafeMutableBufferPointer { mp in
                    divergences.withUnsafeMutableBufferPointer { dp in
                        let r = SendablePointer(rp.baseAddress!), m = SendablePointer(mp.baseAddress!)
                        let d = SendablePointer(dp.baseAddress!)
                        VectorMath.parallelFor(chunk.count) { i in
                            d.pointer[i] = divergence(reference: r.pointer + i * vocab, model: m.pointer + i * vocab, count: vocab)
                        }
                    }
                }
            }
            for value in divergences { total += value }
        }
        return total
    }

    /// sum_i p_i (log p_i - log q_i) for p = softmax(reference), q = softmax(model); both rows are overwritten.
    static func divergence(reference: UnsafeMutablePointer<Float>, model: UnsafeMutablePointer<Float>, count: Int) -> Double {
        // log p_i - log q_i = (r_i - m_i) - lse(r) + lse(m)
        var difference = [Float](repeating: 0, count: count)
        for i in 0..<count { difference[i] = reference[i] - model[i] }
        let modelShift = VectorMath.maximum(model, count: count)
        let modelLSE = Double(modelShift) + log(VectorMath.expShiftedSum(model, count: count, shift: modelShift))
        let referenceShift = VectorMath.maximum(reference, count: count)
        let referenceSum = VectorMath.expShiftedSum(reference, count: count, shift: referenceShift)
        let referenceLSE = Double(referenceShift) + log(referenceSum)
        var weighted = 0.0
        for i in 0..<count { weighted += Double(reference[i]) * Double(difference[i]) }
        return weighted / referenceSum - referenceLSE + modelLSE
    }
}
