import ArgumentParser
import Shared

@main
struct Mop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mop",
        abstract: "Structured pruning of LLaMA-family models (AMP and MoP), single node or over MPI.",
        discussion: "Every command runs the same way alone or under mpirun; rank 0 prints the results.",
        subcommands: [InspectCommand.self, EvalCommand.self, GenerateCommand.self, PruneCommand.self, ApplyCommand.self,
                      FinetuneCommand.self, BenchCommand.self, BenchForwardCommand.self, BenchTrainCommand.self,
                      TokenizeCommand.self, DumpTensorCommand.self, FuzzCommand.self, PlanCommand.self]
    )

    /// Usage errors (unknown options, missing or unreadable values) exit 64 with the usage text, as
    /// swift-argument-parser does; every other failure exits 1 with one line `mop: error: FILE: problem`.
    static func main() {
        BLASKernel.useWidestKernel()
        RawArguments.requireUTF8()
        main(NegativeNumbers.joined(Array(CommandLine.arguments.dropFirst())))
    }
}
