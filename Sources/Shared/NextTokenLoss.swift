import Foundation

/// Next-token negative log-likelihood, summed in float64. Logits are computed a chunk of rows at a time, so a
/// 512-token window costs 64 x V floats of logits, not 512 x V.
public enum NextTokenLoss {
    public static let chunkRows = 64

    /// Sum of -log p(token[t+1] | tokens[...t]) over t = 0..<T-1 of every sequence, and the number of terms.
    public static func sum(_ model: Transformer, batch: [[Int32]], mask: ModelMask? = nil) -> (negativeLogLikelihood: Double, tokens: Int) {
        let hidden = model.hiddenStates(batch, mask: mask)
        // (row of the hidden state, token it must predict)
        var targets: [(row: Int, token: Int32)] = []
        for (sequence, segment) in zip(batch, Transformer.segments(batch)) where sequence.count > 1 {
            for t in 0..<(sequence.count - 1) { targets.append((segment.lowerBound + t, sequence[t + 1])) }
        }
        var total = 0.0
        for start in stride(from: 0, to: targets.count, by: chunkRows) {
            let chunk = targets[start..<min(start + chunkRows, targets.count)]
            let losses = rowLosses(model, hidden: hidden, targets: Array(chunk))
            for loss in losses { total += loss }
        }
        return (total, targets.count)
    }

    /// -log softmax(h_row . E^T)[token] for each target, in order.
    static func rowLosses(_ model: Transformer, hidden: [Float], targets: [(row: Int, token: Int32)]) -> [Double] {
        let d = model.config.hidden
        let output = model.weights.outputMatrix
        let vocab = output.rows
        var rows = [Float](repeating: 0, count: targets.count * d)
        for (i, target) in targets.enumerated() {
            rows.replaceSubrange(i * d..<(i + 1) * d, with: hidden[target.row * d..<(target.row + 1) * d])
        }
        var logits = BLAS.linear(rows, rows: targets.count, output)   // [chunk, V]
        var losses = [Double](repeating: 0, count: targets.count)
        logits.withUnsafeMutableBufferPointer { lp in
            losses.withUnsafeMutableBufferPointer { out in
                let logitsPointer = SendablePointer(lp.baseAddress!), lossPointer = SendablePointer(out.baseAddress!)
                VectorMath.parallelFor(targets.count) { i in
                    let row = logitsPointer.pointer + i * vocab
                    let targetLogit = Double(row[Int(targets[i].token)])
                    let shift = VectorMath.maximum(row, count: vocab)
                    let sum = VectorMath.expShiftedSum(row, count: vocab, shift: shift)
                    lossPointer.pointer[i] = Double(shift) + log(sum) - targetLogit
                }
            }
        }
        return losses
    }
}
