import ArgumentParser
import Shared

/// The LoRA recovery options, shared by `mop finetune` and `mop prune --finetune` (the same names and defaults).
struct FineTuneOptions: ParsableArguments {
    @Option(help: "LoRA rank.") var loraRank = 8
    @Option(help: "LoRA alpha.") var loraAlpha: Float = 16
    @Option(help: "LoRA dropout.") var loraDropout: Float = 0.05
    @Option(help: "Peak learning rate (linear decay to 0).") var lr: Float = 3e-4
    @Option(help: "Passes over the training examples (default 1 unless --steps is given).") var epochs: Double?
    @Option(help: "Optimizer steps (instead of --epochs).") var steps: Int?
    @Option(help: "Examples per optimizer step over all ranks.") var batch = 16
    @Option(help: "Examples per forward/backward call on one rank.") var microBatch = 4
    @Option(help: "Longest training sequence, in tokens (at most the model's positions).") var maxLength = 512
    @Option(help: "Fraction of the examples held out to measure the loss before and after.") var heldOut = 0.05
    @Option(help: "Warm-up steps of the learning rate.") var warmup = 0
    @Option(help: ArgumentHelp("Where the backward finds the blocks' activations: recompute each block from its input (one block's activations in memory, about a third more products), keep them all from the forward (no recompute; every block's activations in memory), or auto (keep when they fit in half of the available memory). Pipeline stages always recompute.",
                               valueName: "recompute|keep|auto"))
    var activationMemory: ActivationMemory = .recompute

    func validate() throws {
        guard steps == nil || epochs == nil else { throw ValidationError("give --steps or --epochs, not both") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let epochs, !(epochs > 0) { throw ValidationError("--epochs must be positive") }
        guard batch >= 1, microBatch >= 1 else { throw ValidationError("--batch and --micro-batch must be at least 1") }
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2") }
        guard heldOut >= 0, heldOut < 1 else { throw ValidationError("--held-out must be in [0, 1)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        // Step s reads examples s*batch ..< (s+1)*batch of the epoch stream: that index must fit an Int.
        guard batch <= 1 << 20, (steps ?? 0).multipliedReportingOverflow(by: batch).overflow == false else {
            throw ValidationError("--steps x --batch is too large")
        }
    }

    var lora: LoRAConfig { LoRAConfig(rank: loraRank, alpha: loraAlpha, dropout: loraDropout) }
}

extension ActivationMemory: ExpressibleByArgument {}
