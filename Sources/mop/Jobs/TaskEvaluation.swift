import Foundation
import Shared
import Worker

/// `mop eval --tasks`: zero-shot accuracy with examples sharded over the ranks by tokens, or with a pipeline `layout`
/// over its replicas, each group of examples flowing through the replica's stages (each holding its one of `parts`,
/// by default the layout's parts of the model).
enum TaskEvaluation {
    struct Results {
        let tasks: [String: ZeroShotResult]
        let average: ZeroShotMetrics.Average
    }

    /// Every rank calls this; rank 0 reads and tokenizes the tasks and gets the results, the others get nil.
    /// Requests longer than `maxLength` tokens (default: the model's positions) lose tokens at the left, as lm-eval
    /// truncates; each such example is named on stderr.
    static func run(_ model: Transformer, tokenizer spec: TokenizerSpec, modelPath: String, tasks: [ZeroShotTask],
                    directory: String, limit: Int?, maxLength: Int? = nil, dedicatedCoordinator: Bool,
                    layout: PipelineLayout? = nil, parts: [ModelPart]? = nil, communicator: some Communicator) throws -> Results? {
        let length = min(maxLength ?? model.positions, model.positions)
        // Rank 0 tokenizes and broadcasts, so every rank scores exactly the same ids (and only rank 0 needs the files).
        var flat: [Int32] = []
        if communicator.isCoordinator {
            let tokenizer = try spec.tokenizer(file: modelPath)
            var examples: [(task: Int, example: TokenizedExample)] = []
            for (index, task) in tasks.enumerated() {
                for example in try TaskData.load(task, directory: directory, limit: limit) {
                    let whole = try ZeroShotScoring.tokenize(example, tokenizer: tokenizer)
                    if let longest = whole.requests.map({ $0.context.count + $0.continuation.count }).max(), longest > length + 1 {
                        FileHandle.standardError.write(Data("zero-shot: \(example.source): \(longest) tokens, scored on the last \(length + 1) (lm-eval's left truncation to the model's length)\n".utf8))
                    }
                    examples.append((index, whole.truncated(maxLength: length)))
                }
            }
            flat = ZeroShotPacking.pack(examples)
        }
        communicator.broadcast(&flat, root: 0)
        let examples = try ZeroShotPacking.unpack(flat)
        let costs = examples.map(\.example.tokenCost)
        let staged = layout.flatMap { $0.stages > 1 ? $0 : nil }
        let shard = staged.map { Sharding.range(costs: costs, rank: $0.replica(ofRank: communicator.rank), size: $0.replicas) }
            ?? Sharding.range(costs: costs, rank: communicator.rank, size: communicator.size,
                              dedicatedCoordinator: dedicatedCoordinator)
        let stage = staged.map { layout in
            PipelineStage(layout: layout, part: (parts ?? layout.parts(model.config))[layout.stage(ofRank: communicator.rank)],
                          communicator: communicator)
        }
        let progress = ProgressReporter("zero-shot", total: shard.count, unit: "examples", enabled: communicator.isCoordinator)
        let counts = try ZeroShotWorker.score(model, examples: examples[shard], taskCount: tasks.count, file: modelPath, stage: stage,
                                              progress: progress.update)
        var packed = counts.flatMap(\.packed)
        communicator.reduceSum(&packed, root: 0)
        guard communicator.isCoordinator else { return nil }
        var results: [String: ZeroShotResult] = [:]
        let width = ZeroShotCounts.packedCount
        for (index, task) in tasks.enumerated() {
            results[task.rawValue] = ZeroShotMetrics.result(ZeroShotCounts(packed: packed[(width * index)..<(width * (index + 1))]))
        }
        guard let average = ZeroShotMetrics.average(results.values) else { throw MopError("no zero-shot tasks to evaluate") }
        return Results(tasks: results, average: average)
    }
}
