/// Rows of a batch's input embeddings that are given, not looked up by token: a LLaVA prompt's projected image
/// features in place of its `<image>` tokens (`LlavaVision`). The one seam through which every pass that embeds
/// tokens (`Transformer.embed`, so `hiddenStates`, a pipeline's first stage, generation) takes them, and through which
/// the losses learn which positions are no prediction targets (`NextTokenLoss.targets`).
public struct FeatureRows: Equatable, Sendable {
    /// The rows they fill, counted in the stacked batch (or in one sequence, before `shifted`).
    public let rows: Range<Int>
    /// [rows.count, D]; empty on a pipeline stage that does not embed, which needs only `rows` (for the targets).
    public let values: [Float]

    public init(rows: Range<Int>, values: [Float]) {
        (self.rows, self.values) = (rows, values)
    }

    /// The same rows `offset` rows further on: a sequence's rows once it is stacked after others.
    public func shifted(by offset: Int) -> FeatureRows {
        FeatureRows(rows: (rows.lowerBound + offset)..<(rows.upperBound + offset), values: values)
    }

    /// The same rows without their values, for a stage that never embeds.
    public var withoutValues: FeatureRows { FeatureRows(rows: rows, values: []) }

    /// Writes every given row into the embeddings x [N, D].
    static func place(_ features: [FeatureRows], into x: inout [Float], hidden d: Int) {
        for feature in features {
            precondition(feature.values.count == feature.rows.count * d && feature.rows.upperBound * d <= x.count,
                         "\(feature.values.count) feature values for rows \(feature.rows) of width \(d) in \(x.count / d) rows")
            x.replaceSubrange(feature.rows.lowerBound * d..<feature.rows.upperBound * d, with: feature.values)
        }
    }
}
