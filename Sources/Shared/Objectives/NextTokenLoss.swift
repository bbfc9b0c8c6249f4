import Foundation

/// Next-token negative log-likelihood, summed in float64. Logits are computed a chunk of rows at a time, so a
/// 512-token window costs 64 x V floats of logits, not 512 x V.
public enum NextTokenLoss {
    public static let chunkRows = 64

    /// Logits a chunk may hold. Every chunk is one product with the whole head, which packs (and, kept as stored,
    /// decodes) the head again: 64 rows decoded a 1.5B model's 151936 x 1536 head 8 times per 512-token window, and
    /// packing SmolLM2's fp32 head for every 64 rows took a tenth of a search iteration.
    static let headLogitBytes = 128 << 20

    /// Rows per chunk for `output`: as many as hold at most `headLogitBytes` and at most half the head's own bytes
    /// in memory (stored or fp32), and at least `chunkRows`, so the logits (held more than once while a chunk is
    /// scored) never cost more memory than the head itself: a small model's whole window of logits would outweigh
    /// its file.
    public static func chunkRows(for output: OutputHead) -> Int {
        max(chunkRows, min(headLogitBytes, output.matrix.bytesHeld / 2) / (output.rows * MemoryLayout<Float>.size))
    }

    /// A scored position: the row of the stacked hidden states and the token it must predict.
    public struct Target: Sendable {
        public let row: Int
        public let token: Int32
    }

    /// Positions 0..<T-1 of every sequence, each predicting the next token, but for a next row that `features`
    /// fill: an image's rows are no token to predict (transformers' LLaVA labels them -100); the image's last row
    /// still predicts the text after it.
    public static func targets(_ batch: [[Int32]], features: [FeatureRows] = []) -> [Target] {
        var targets: [Target] = []
        for (sequence, segment) in zip(batch, Transformer.segments(batch)) where sequence.count > 1 {
            for t in 0..<(sequence.count - 1) where !features.contains(where: { $0.rows.contains(segment.lowerBound + t + 1) }) {
                targets.append(Target(row: segment.lowerBound + t, token: sequence[t + 1]))
            }
        }
        return targets
    }

    /// Sum of -log p(token[t+1] | tokens[...t]) over t = 0..<T-1 of every sequence, and the number of terms.
    public static func sum(_ model: Transformer, batch: [[Int32]], mask: ModelMask? = nil) -> (negativeLogLikelihood: Double, tokens: Int) {
        let targets = targets(batch)
        return (sum(hidden: model.hiddenStates(batch, mask: mask), targets: targets, output: model.weights.head),
                targets.count)
    }

    /// The same sum from the final hidden states [N, D] a forward pass already made (`Transformer.hiddenStates`).
    public static func sum(hidden: [Float], targets: [Target], output: OutputHead) -> Double {
        var total = 0.0
        forEachChunk(of: targets, rows: chunkRows(for: output)) { chunk in
            for loss in rowLosses(hidden: hidden, targets: chunk, output: output) { total += loss }
        }
        return total
    }

    /// Runs `body` on consecutive chunks of at most `rows` targets, of equal sizes but the last.
    static func forEachChunk(of targets: [Target], rows: Int = chunkRows, _ body: ([Target]) -> Void) {
        for start in stride(from: 0, to: targets.count, by: rows) {
            body(Array(targets[start..<min(start + rows, targets.count)]))
        }
    }

    /// Logits of the target rows: [targets, V].
    static func logits(hidden: [Float], targets: [Target], output: OutputHead) -> [Float] {
        let d = output.matrix.cols
        var rows = [Float](repeating: 0, count: targets.count * d)
        for (i, target) in targets.enumerated() {
            rows.replaceSubrange(i * d..<(i + 1) * d, with: hidden[target.row * d..<(target.row + 1) * d])
        }
        return output.logits(rows, rows: targets.count)
    }

    /// -log softmax(h_row . E^T)[token] for each target, in order.
    static func rowLosses(hidden: [Float], targets: [Target], output: OutputHead) -> [Double] {
        let vocab = output.rows
        var logits = logits(hidden: hidden, targets: targets, output: output)
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
