import ArgumentParser
import Shared

/// `--weights`: how a rank holds the model's weight matrices in memory (`WeightStorage`).
struct WeightOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How the weight matrices are held: stored (as in the file, memory-mapped, decoded a panel at a time; memory about the file's size), bf16, or fp32 (4 bytes per weight).",
                               valueName: "stored|bf16|fp32"))
    var weights: WeightStorage = .stored
}

extension WeightStorage: ExpressibleByArgument {}
