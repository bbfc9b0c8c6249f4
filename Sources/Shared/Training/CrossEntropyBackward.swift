import Foundation

/// Cross-entropy of logits rows against target tokens, with its gradient.
public enum CrossEntropy {
    /// For each row i of logits [rows, V]: returns -log softmax(row)[target_i] (float64) and overwrites the row with
    /// the gradient of weight * that loss: weight * (softmax(row) - onehot(target_i)).
    public static func lossAndGradient(_ logits: inout [Float], vocab: Int, targets: [Int32], weight: Float) -> [Double] {
        precondition(logits.count == targets.count * vocab, "cross-entropy: logits do not hold \(targets.count) rows of \(vocab)")
        var losses = [Double](repeating: 0, count: targets.count)
        logits.withUnsafeMutableBufferPointer { lp in
            losses.withUnsafeMutableBufferPointer { out in
                let logitsPointer = SendablePointer(lp.baseAddress!), lossPointer = SendablePointer(out.baseAddress!)
                VectorMath.parallelFor(targets.count) { i in
                    let row = logitsPointer.pointer + i * vocab, target = Int(targets[i])
                    let targetLogit = Double(row[target])
                    let shift = VectorMath.maximum(row, count: vocab)
                    let sum = VectorMath.expShiftedSum(row, count: vocab, shift: shift)
                    lossPointer.pointer[i] = Double(shift) + log(sum) - targetLogit
                    let factor = Float(Double(weight) / sum)
                    for j in 0..<vocab { row[j] *= factor }
                    row[target] -= weight
                }
            }
        }
        return losses
    }
}
