import ArgumentParser

@main
struct Mop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mop",
        abstract: "Structured pruning of LLaMA-family models (AMP and MoP), single node or over MPI.",
        discussion: "Every command runs the same way alone or under mpirun; rank 0 prints the results.",
        subcommands: [InspectCommand.self, EvalCommand.self, GenerateCommand.self, PruneCommand.self, ApplyCommand.self,
                      FinetuneCommand.self, BenchCommand.self, BenchForwardCommand.self, BenchTrainCommand.self,
                      FuzzCommand.self]
    )
}
