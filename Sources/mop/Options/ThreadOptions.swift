import ArgumentParser

/// `--threads`: the BLAS threads of each rank, one option and one check for every command that computes, so a value
/// one command refuses is never run by another.
struct ThreadOptions: ParsableArguments {
    @Option(help: "BLAS threads per rank (default: OpenBLAS's, OPENBLAS_NUM_THREADS).") var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, not \(threads)") }
    }
}
