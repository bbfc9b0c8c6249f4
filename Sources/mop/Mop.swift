import ArgumentParser

@main
struct Mop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mop",
        abstract: "Structured pruning of LLaMA-family models (AMP and MoP), single node or over MPI.",
        subcommands: []
    )
}
