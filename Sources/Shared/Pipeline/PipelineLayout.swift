/// How `--stages S` arranges N ranks: S pipeline stages x R = N / S data-parallel replicas. Rank r is stage r % S of
/// replica r / S, so a replica's stages are consecutive ranks. Stage s holds a contiguous run of blocks (`parts`):
/// blocks are split so every stage does about the same work per token (a block's matrices, plus the output matrix on
/// the last stage), which also evens out the weights each holds.
public struct PipelineLayout: Equatable, Sendable {
    public let stages: Int
    public let replicas: Int

    /// Throws when `ranks` cannot form `stages` stages or the model has fewer blocks than stages.
    public init(stages: Int, ranks: Int, blocks: Int) throws {
        guard stages >= 1 else { throw MopError("--stages must be at least 1") }
        guard ranks % stages == 0 else {
            throw MopError("--stages \(stages) does not divide the \(ranks) ranks (each replica of the pipeline needs \(stages) ranks)")
        }
        guard stages <= blocks else { throw MopError("--stages \(stages) is more than the model's \(blocks) blocks") }
        self.stages = stages
        replicas = ranks / stages
    }

    public func stage(ofRank rank: Int) -> Int { rank % stages }
    public func replica(ofRank rank: Int) -> Int { rank / stages }
    /// The rank of `stage` in `replica`.
    public func rank(stage: Int, replica: Int) -> Int { replica * stages + stage }

    /// Tokens per micro-batch for a replica's `shardTokens` calibration tokens through `stages` stages (the search
    /// cuts its shard into whole sequences of about this many tokens): a quarter of the shard per stage, so the
    /// pipeline fills quickly, but no fewer than 64 tokens and no more than 512, for efficient products.
    public static func microBatchTokens(shardTokens: Int, stages: Int) -> Int {
        min(512, max(64, shardTokens / (4 * max(1, stages))))
    }

    /// What each stage holds, first to last.
    public func parts(_ config: ModelConfig) -> [ModelPart] {
        let blockCosts = config.layers.map { config.blockParameters($0) }
        let costs = blockCosts + [config.vocabSize * config.hidden]
        return (0..<stages).map { stage in
            let range = Sharding.range(costs: costs, rank: stage, size: stages)
            let blocks = min(range.lowerBound, blockCosts.count)..<min(range.upperBound, blockCosts.count)
            return ModelPart(blocks: blocks, embeds: stage == 0, head: stage == stages - 1)
        }
    }

    /// What each stage holds of the model `structure` prunes `original` to: the kept blocks of its original part
    /// (`PruningStructure.blocks(in:)`, maybe none), so a stage goes on with the weights it loaded for the search.
    public func parts(_ original: ModelConfig, pruned structure: PruningStructure) -> [ModelPart] {
        parts(original).map { ModelPart(blocks: structure.blocks(in: $0.blocks), embeds: $0.embeds, head: $0.head) }
    }
}
