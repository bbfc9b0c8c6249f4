import Shared

/// The speed of one full training step, the one `mop finetune` takes (forward, the recomputing backward, LoRA
/// gradients, the allreduce, clipping and AdamW), against the rate `cblas_sgemm` reaches on exactly the products
/// that step made (recorded while it ran, forward and backward), timed in turns with the step in the same process
/// with the same threads.
/// Also the step's memory: the peak resident bytes it adds to the loaded model, and every step's loss (for a peer's
/// steps from the same adapters: scripts/bench-train-vs-peft.sh).
public enum TrainingBenchmark {
    public struct Result: Encodable, Sendable {
        public let threads: Int
        public let tokens: Int
        /// Sequences in the batch, and the targets the loss is taken on.
        public let sequences: Int
        public let targets: Int
        public let loraRank: Int
        public let activationMemory: ActivationMemory
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
        /// Every step's loss, the recorded first step first, and the learning rate it stepped with (AdamW, no weight
        /// decay, gradients clipped to norm `maxGradientNorm`), so that a peer can take the same steps.
        public let losses: [Double]
        public let learningRates: [Float]
        public let maxGradientNorm: Float
    }

    /// One step on the batch `examples` (one micro-batch), trained with `adapters` as `mop finetune` does. The first
    /// step is recorded and its memory measured; then `runs` timed steps and as many timings of the recorded
    /// products through sgemm, the best kept.
    public static func run(model: ModelWeights, examples: [InstructionExample], adapters: LoRAAdapters, runs: Int,
                           activations: ActivationMemory, file: String, communicator: any Communicator) throws -> Result {
        guard communicator.size == 1 else { throw MopError("the training benchmark measures one process; run it without mpirun") }
        guard runs >= 1 else { throw MopError("the training benchmark needs at least 1 run") }
        let settings = FineTuneSettings(lora: adapters.config, batchSize: examples.count, microBatch: examples.count,
                                        totalSteps: runs + 1, activationMemory: activations)
        var worker = try FineTuneWorker(model: model, adapters: adapters, settings: settings, file: file,
                                        communicator: communicator)
        // Start the BLAS threads and their buffers before the memory baseline, with a product too small to matter.
        _ = SgemmBound.seconds([SgemmBound.Product(m: 64, n: 64, k: 64, repeats: 1)])
        let before = try ProcessMemory.resident()
        try ProcessMemory.resetPeak()
        var steps: [FineTuneWorker.Step] = []
        let (first, products) = try SgemmBound.recording { try worker.train(on: examples) }
        steps.append(first)
        let peakStep = try ProcessMemory.peak() - before
        let (step, sgemm) = try SgemmBound.bestOf(runs, work: { steps.append(try worker.train(on: examples)) }, products: products)
        let flops = products.reduce(0) { $0 + $1.flops }
        let tokens = examples.reduce(0) { $0 + $1.tokens.count }
        return Result(threads: BLAS.threads, tokens: tokens, sequences: examples.count, targets: first.targets,
                      loraRank: adapters.config.rank, activationMemory: activations, stepSeconds: step,
                      tokensPerSecond: Double(tokens) / step, products: products.reduce(0) { $0 + $1.repeats },
                      gflopPerStep: flops / 1e9, stepGflops: flops / step / 1e9, sgemmGflops: flops / sgemm / 1e9,
                      ratio: sgemm / step, peakStepBytes: max(0, peakStep), losses: steps.map(\.loss),
                      learningRates: steps.map(\.learningRate), maxGradientNorm: settings.maxGradientNorm)
    }
}
