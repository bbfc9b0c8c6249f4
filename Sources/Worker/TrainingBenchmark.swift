import Shared

/// The speed of one full training step, the one `mop finetune` takes (forward, the recomputing backward, LoRA
/// gradients, the allreduce, clipping and AdamW), against the rate `cblas_sgemm` reaches on exactly the products
/// that step made (recorded while it ran, forward and backward), timed in turns with the step in the same process
/// with the same threads.
/// Also the step's memory: the peak resident bytes it adds to the loaded model.
public enum TrainingBenchmark {
    public struct Result: Encodable, Sendable {
        public let threads: Int
        public let tokens: Int
        public let loraRank: Int
        /// Best of the timed steps.
        public let stepSeconds: Double
        public let tokensPerSecond: Double
        /// sgemm calls of one step and their FLOPs.
        public let products: Int
        public let gflopPerStep: Double
        public let stepGflops: Double
        public let sgemmGflops: Double
        /// stepGflops / sgemmGflops.
        public let ratio: Double
        /// Peak resident bytes during the first step above those before it (weights, adapters and optimizer moments
        /// already allocated): activations, gradient buffers and scratch.
        public let peakStepBytes: Int
    }

    /// One sequence of `tokens`, every position after the first a target (the most loss-head work a sequence of
    /// that length can cost), trained with `lora` as `mop finetune` does. The first step is recorded and its memory
    /// measured; then `runs` timed steps and as many timings of the recorded products through sgemm, the best kept.
    public static func run(model: ModelWeights, tokens: [Int32], lora: LoRAConfig, runs: Int, file: String,
                           communicator: any Communicator) throws -> Result {
        guard communicator.size == 1 else { throw MopError("the training benchmark measures one process; run it without mpirun") }
        guard runs >= 1 else { throw MopError("the training benchmark needs at least 1 run") }
        let example = InstructionExample(tokens: tokens, lossMask: tokens.indices.map { $0 > 0 })
        let settings = FineTuneSettings(lora: lora, batchSize: 1, microBatch: 1, totalSteps: runs + 1)
        var worker = try FineTuneWorker(model: model, adapters: LoRAAdapters(config: lora, model: model.config, seed: 0),
                                        settings: settings, file: file, communicator: communicator)
        // Start the BLAS threads and their buffers before the memory baseline, with a product too small to matter.
        _ = SgemmBound.seconds([SgemmBound.Product(m: 64, n: 64, k: 64, repeats: 1)])
        let before = try ProcessMemory.resident()
        try ProcessMemory.resetPeak()
        let (_, products) = try SgemmBound.recording { try worker.train(on: [example]) }
        let peakStep = try ProcessMemory.peak() - before
        let (step, sgemm) = try SgemmBound.bestOf(runs, work: { _ = try worker.train(on: [example]) }, products: products)
        let flops = products.reduce(0) { $0 + $1.flops }
        return Result(threads: BLAS.threads, tokens: tokens.count, loraRank: lora.rank, stepSeconds: step,
                      tokensPerSecond: Double(tokens.count) / step, products: products.reduce(0) { $0 + $1.repeats },
                      gflopPerStep: flops / 1e9, stepGflops: flops / step / 1e9, sgemmGflops: flops / sgemm / 1e9,
                      ratio: sgemm / step, peakStepBytes: max(0, peakStep))
    }
}
