import Foundation
import Shared

/// ShortGPT's block influence (docs/design.md#depth-rules): for every block, the sum over tokens of 1 - cos(input,
/// output) of the residual stream; a block whose output barely differs from its input is the cheapest to remove.
public final class BlockInfluence: ForwardObserver {
    public private(set) var sums: [Double]

    public init(layers: Int) { sums = [Double](repeating: 0, count: layers) }

    /// [sum of 1 - cos per block..., tokens]: the sums seen so far, with `tokens` as the token count.
    public func packed(tokens: Int) -> [Double] { sums + [Double(tokens)] }

    public func block(layer: Int, input: [Float], output: [Float], segments: [Range<Int>]) {
        let rows = segments.last?.upperBound ?? 0
        guard rows > 0 else { return }
        let d = input.count / rows
        var total = 0.0
        for t in 0..<rows {
            var dot = 0.0, inputNorm = 0.0, outputNorm = 0.0
            for i in (t * d)..<((t + 1) * d) {
                dot += Double(input[i]) * Double(output[i])
                inputNorm += Double(input[i]) * Double(input[i])
                outputNorm += Double(output[i]) * Double(output[i])
            }
            total += 1 - dot / max((inputNorm * outputNorm).squareRoot(), .leastNormalMagnitude)
        }
        sums[layer] += total
    }
}
