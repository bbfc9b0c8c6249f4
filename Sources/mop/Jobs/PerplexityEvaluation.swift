import Foundation
import Coordinator
import Shared
import Worker

/// `mop eval --ppl` (and the chained evaluation of `mop prune --eval`): perplexity over non-overlapping windows,
/// sharded over the ranks by tokens, or with a pipeline `layout` over its replicas, each window flowing through the
/// replica's stages (each holding its one of `parts`, by default the layout's parts of the model).
enum PerplexityEvaluation {
    struct Result {
        let perplexity: Double
        let tokens: Int
        let windows: Int
        let seconds: Double
        let pipeline: PipelineReport?
    }

    /// Every rank calls this; rank 0 reads and tokenizes `file` and gets the result, the others get nil.
    static func measure(_ transformer: Transformer, tokenizer spec: TokenizerSpec, modelPath model: String, file: String,
                        seqLen: Int, maxTokens: Int?, dedicatedCoordinator: Bool, layout: PipelineLayout? = nil,
                        parts: [ModelPart]? = nil, communicator: some Communicator) throws -> Result? {
        guard seqLen <= transformer.config.maxPositions else {
            throw MopError(file: model, "--seq-len \(seqLen) is longer than the model's \(transformer.config.maxPositions) positions")
        }
        let start = Date()
        // Rank 0 tokenizes and broadcasts, so every rank scores exactly the same ids.
        var tokens: [Int32] = []
        if communicator.isCoordinator {
            tokens = try spec.tokenizer(file: model).encode(try TextFile.read(file))
        }
        communicator.broadcast(&tokens, root: 0)
        let plan = PerplexityPlan(tokenCount: tokens.count, seqLen: seqLen, maxTokens: maxTokens)
        guard !plan.windows.isEmpty else { throw MopError(file: file, "the text has fewer than 2 tokens") }
        let sums: PartialSums, pipeline: PipelineReport?
        if let layout, layout.stages > 1 {
            let shard = plan.shard(rank: layout.replica(ofRank: communicator.rank), size: layout.replicas)
            let stageParts = parts ?? layout.parts(transformer.config)
            let stage = PipelineStage(layout: layout, part: stageParts[layout.stage(ofRank: communicator.rank)], communicator: communicator)
            let progress = ProgressReporter("perplexity (stage 0 of replica 0)", total: shard.count, unit: "windows",
                                            enabled: communicator.isCoordinator)
            let result = try PipelinePerplexity.score(transformer, stage: stage, tokens: tokens, windows: shard,
                                                      file: model, progress: progress.update)
            sums = result.sums
            let measure = PipelineReport.RankMeasure(seconds: result.seconds, waitSeconds: result.link.waitSeconds,
                                                     bytesSent: result.link.bytesSent,
                                                     weightsHeldBytes: stage.part.bytesHeld(transformer.weights))
            pipeline = PipelineReport.gather(measure, layout: layout, parts: stageParts, communicator: communicator)
        } else {
            let shard = plan.shard(rank: communicator.rank, size: communicator.size, dedicatedCoordinator: dedicatedCoordinator)
            let progress = ProgressReporter("perplexity", total: shard.count, unit: "windows", enabled: communicator.isCoordinator)
            sums = try PerplexityWorker.score(transformer, tokens: tokens, windows: shard, file: model,
                                              progress: progress.update)
            pipeline = nil
        }
        var packed = sums.packed
        communicator.reduceSum(&packed, root: 0)
        guard communicator.isCoordinator else { return nil }
        let total = PartialSums(packed: packed)
        return Result(
            perplexity: PerplexityPlan.perplexity(negativeLogLikelihood: total.negativeLogLikelihood, tokens: total.tokens),
            tokens: Int(total.tokens) + plan.windows.count, windows: plan.windows.count,
            seconds: Date().timeIntervalSince(start), pipeline: pipeline)
    }
}
