import ArgumentParser
import Foundation
import Shared

/// The options that decide how a command spreads over MPI ranks (docs/design.md#distribution).
struct ClusterOptions: ParsableArguments {
    @Flag(help: "Rank 0 reads the model and broadcasts the weights, so the other nodes need no copy of the file.")
    var broadcastWeights = false
    @Flag(help: "Rank 0 only coordinates: ranks 1... hold every shard (needs at least 2 ranks).")
    var dedicatedCoordinator = false
    @OptionGroup var weightOptions: WeightOptions

    var source: ModelDistribution.Source { broadcastWeights ? .broadcast : .mapped }

    /// The ranks split into `count` groups, each of which scores on its own copy of the data.
    func groups(_ count: Int, _ communicator: any Communicator) throws -> RankGroups {
        try requireScoringRank(communicator)
        return try RankGroups(count: count, ranks: communicator.size, dedicatedCoordinator: dedicatedCoordinator)
    }

    /// `--stages S` over this job's ranks (nil for one stage). The block count comes from rank 0's file, so that with
    /// `--broadcast-weights` the other nodes need none.
    func layout(stages: Int, model: String, _ communicator: any Communicator) throws -> PipelineLayout? {
        guard stages > 1 else { return nil }
        var blocks = [communicator.isCoordinator ? try ModelLoader.describe(path: model).config.layers.count : 0]
        communicator.broadcast(&blocks, root: 0)
        return try PipelineLayout(stages: stages, ranks: communicator.size, blocks: blocks[0])
    }

    /// The model on every rank, the same everywhere (checked by checksum); rank 0 logs how it got there. With a
    /// pipeline `layout`, each rank holds its stage's part only.
    func loadModel(_ path: String, _ communicator: any Communicator, layout: PipelineLayout? = nil) throws -> ModelDistribution.Outcome {
        try requireScoringRank(communicator)
        let outcome = try ModelDistribution.load(path: path, source: source, storage: weightOptions.weights,
                                                    layout: layout, communicator: communicator)
        if communicator.isCoordinator && communicator.size > 1 {
            let moved = outcome.source == .broadcast
                ? String(format: "rank 0 broadcast %.1f MB of weights", Double(outcome.bytesBroadcast) / 1e6)
                    + (layout.map { ", each of \($0.stages) pipeline stages x \($0.replicas) replicas its blocks" } ?? "")
                : layout.map { "\($0.stages) pipeline stages x \($0.replicas) replicas mapped the file, each stage checking its blocks" }
                    ?? "every rank mapped the file"
            FileHandle.standardError.write(Data(String(
                format: "mop: %ld ranks%@; %@ in %.2f s; weights checksum %@ on every rank\n", communicator.size,
                dedicatedCoordinator ? " (rank 0 only coordinates)" : "", moved, outcome.seconds,
                ModelChecksum.hex(outcome.checksum)).utf8))
        }
        return outcome
    }

    private func requireScoringRank(_ communicator: any Communicator) throws {
        guard !dedicatedCoordinator || communicator.size > 1 else {
            throw MopError("--dedicated-coordinator needs at least 2 ranks (run under mpirun -np N, N >= 2)")
        }
    }
}
