import Foundation
import Shared

/// What every command shares: one MPI communicator per process, results on rank 0's stdout, and bad input ending
/// the whole job with a one-line error and a non-zero exit (never a hang: a lone failing rank aborts the others).
enum RunSupport {
    /// Runs `body` with the process's communicator; turns thrown errors into `mop: error: ...` on stderr.
    static func run(threads: Int?, _ body: (MPICommunicator) throws -> Void) -> Never {
        if let threads { BLAS.setThreads(threads) }
        TemporaryFiles.removeOnTermination()
        let communicator = MPICommunicator()
        let prefix = communicator.size > 1 ? "mop: error (rank \(communicator.rank)): " : "mop: error: "
        // After MPI_Init, which installs OpenMPI's own SIGBUS handler.
        MappedFileFaults.install(errorPrefix: prefix)
        do {
            try body(communicator)
            communicator.finalize()
            exit(0)
        } catch {
            FileHandle.standardError.write(Data((prefix + "\(error)\n").utf8))
            if communicator.size > 1 { communicator.abort(code: 1) }
            exit(1)
        }
    }

    /// One JSON object on stdout, keys sorted so outputs diff cleanly. JSON has no NaN or infinity: a report holding
    /// one (which the forward pass's checks should have stopped earlier, `ForwardOverflow`) is an error, not output.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data: Data
        do { data = try encoder.encode(value) } catch EncodingError.invalidValue(let bad, let context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw MopError("the report's \(key) is \(bad), which JSON cannot hold")
        }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    static func printLine(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
