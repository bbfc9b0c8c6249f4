/// This rank's stage of a pipeline: the part of the model it holds and its links. `forward` is a stage's share of
/// `Transformer.hiddenStates` for one micro-batch, so a job written for whole models runs staged by calling it where
/// it would call `hiddenStates` and scoring only where it returns the hidden states (the last stage).
public struct PipelineStage {
    public let part: ModelPart
    /// Stages in the pipeline.
    public let stages: Int
    public private(set) var link: StageLink
    let communicator: any Communicator

    public init(layout: PipelineLayout, config: ModelConfig, communicator: any Communicator) {
        part = layout.parts(config)[layout.stage(ofRank: communicator.rank)]
        stages = layout.stages
        link = StageLink(layout: layout, rank: communicator.rank)
        self.communicator = communicator
    }

    public var isLast: Bool { link.next == nil }

    /// The first stage embeds `batch`, the others receive the previous stage's activations [rows, D]; each runs its
    /// blocks (`blocks`, by default the part's: a pruned model's stage names its current indices, `PruningStructure.
    /// blocks(in:)`), masked by `mask` and seen by `observer`; the last returns the final hidden states [rows, D], the
    /// others send theirs on and return nil. Every stage of a replica must call it with the same batch, in the same
    /// order.
    public mutating func forward(_ model: Transformer, batch: [[Int32]], blocks: Range<Int>? = nil, prefixes: [Int?]? = nil,
                                 mask: ModelMask? = nil, observer: ForwardObserver? = nil) throws -> [Float]? {
        let segments = Transformer.segments(batch)
        let rows = segments.last?.upperBound ?? 0
        var x = link.previous == nil ? model.embed(batch)
                                     : try link.receive(count: rows * model.config.hidden, communicator: communicator)
        model.runBlocks(blocks ?? part.blocks, &x, segments: segments, prefixes: prefixes, mask: mask, observer: observer)
        guard isLast else {
            link.send(x, communicator: communicator)
            return nil
        }
        return model.finalNorm(x)
    }
}
