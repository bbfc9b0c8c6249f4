/// Finite weights can still overflow fp32 at run time (a norm weight of 3e38, or of 1e5 before the output matrix):
/// the losses, scores or logits turn NaN or infinite, and a run that averaged them would print `perplexity nan`,
/// rank choices by NaN or emit one token forever. Every reduction checks its sum once per window, example, batch or
/// step (a sum is non-finite exactly when some term was) and the first bad one ends the command, naming the file,
/// the place and, found by running that input again block by block, the first layer whose output overflowed.
public enum ForwardOverflow {
    /// Whether every value is finite: one pass of multiply-adds (x * 0 is 0 for a finite x, NaN otherwise), far
    /// cheaper than the forward pass or the load that made the values.
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        var sum: Float = 0
        for value in values { sum += value * 0 }
        return sum == 0
    }

    public static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer(allFinite)
    }

    /// Throws unless `sum` is finite: `place` says where ("window 3"), `layer` is asked only when it is not.
    public static func check(_ sum: Double, file: String, at place: @autoclosure () -> String,
                             layer: () -> Int? = { nil }) throws {
        guard !sum.isFinite else { return }
        throw error(sum, file: file, at: place(), layer: layer())
    }

    /// Throws unless every value (a batch's final hidden states, a step's logits) is finite.
    public static func check(_ values: [Float], file: String, at place: @autoclosure () -> String,
                             layer: () -> Int? = { nil }) throws {
        guard !allFinite(values), let bad = values.first(where: { !$0.isFinite }) else { return }
        throw error(Double(bad), file: file, at: place(), layer: layer())
    }

    /// The error for a forward pass that gave `value` (NaN or an infinity).
    public static func error(_ value: Double, file: String, at place: String, layer: Int?) -> MopError {
        let name = value.isNaN ? "NaN" : value < 0 ? "-inf" : "inf"
        return MopError(file: file, "the forward pass gave \(name) at \(place)\(layer.map { " (layer \($0))" } ?? ""): the weights overflow fp32")
    }
}

extension Transformer {
    /// The first block whose output holds a NaN or an infinity when `batch` runs (as `hiddenStates` runs it); nil
    /// when every block's output is finite (the final norm or the output matrix overflowed).
    public func firstNonFiniteLayer(_ batch: [[Int32]], features: [FeatureRows] = [], prefixes: [Int?]? = nil,
                                    mask: ModelMask? = nil) -> Int? {
        let segments = Self.segments(batch)
        var x = embed(batch, features: features)
        for index in config.layers.indices {
            runBlocks(index..<(index + 1), &x, segments: segments, prefixes: prefixes, mask: mask)
            if !ForwardOverflow.allFinite(x) { return index }
        }
        return nil
    }
}
