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
        self.init(layout: layout, part: layout.parts(config)[layout.stage(ofRank: communicator.rank)], communicator: communicator)
    }

    /// The stage holding `part` (a pruned model's stage holds what is left of its original part, `PipelineLayout.
    /// parts(_:pruned:)`).
    public init(layout: PipelineLayout, part: ModelPart, communicator: any Communicator) {
        self.part = part
        stages = layout.stages
        link = StageLink(layout: layout, rank: communicator.rank)
        self.communicator = communicator
    }

    public var isLast: Bool { link.next == nil }

    /// The first stage embeds `batch` (with `features` in their rows), the others receive the previous stage's activations [rows, D]; each runs its
    /// blocks (`blocks`, by default the part's: a pruned model's stage names its current indices, `PruningStructure.
    /// blocks(in:)`), masked by `mask` and seen by `observer`; the last returns the final hidden states [rows, D], the
    /// others send theirs on and return nil. Every stage of a replica must call it with the same batch, in the same
    /// order.
    public mutating func forward(_ model: Transformer, batch: [[Int32]], features: [FeatureRows] = [], blocks: Range<Int>? = nil,
                                 prefixes: [Int?]? = nil, mask: ModelMask? = nil, observer: ForwardObserver? = nil) throws -> [Float]? {
        let segments = Transformer.segments(batch)
        var x = try input(model, batch: batch, features: features)
        model.runBlocks(blocks ?? part.blocks, &x, segments: segments, prefixes: prefixes, mask: mask, observer: observer)
        guard isLast else {
            link.send(x, communicator: communicator)
            return nil
        }
        return model.finalNorm(x)
    }

    /// What this stage's first block takes for `batch`: the embeddings on the first stage (`features` in their rows),
    /// the previous stage's activations elsewhere ([rows, D]).
    public mutating func input(_ model: Transformer, batch: [[Int32]], features: [FeatureRows] = []) throws -> [Float] {
        guard link.previous != nil else { return model.embed(batch, features: features) }
        return try link.receive(count: batch.reduce(0) { $0 + $1.count } * model.config.hidden, communicator: communicator)
    }

    /// Hands this stage's output x [rows, D] to the next stage.
    public mutating func send(_ x: [Float]) { link.send(x, communicator: communicator) }

    /// Training's backward: the gradient [rows, D] of the output this stage sent, from the next stage.
    public mutating func receiveGradient(rows: Int, hidden: Int) throws -> [Float] {
        try link.receiveGradient(count: rows * hidden, communicator: communicator)
    }

    /// Training's backward: hands the gradient of this stage's input [rows, D] back (nothing on the first stage,
    /// whose input is the frozen embedding's).
    public mutating func sendGradient(_ dx: [Float]) {
        if link.previous != nil { link.sendGradient(dx, communicator: communicator) }
    }
}
