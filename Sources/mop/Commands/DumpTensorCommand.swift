import ArgumentParser
import Dispatch
import Foundation
import Shared

/// Writes GGUF tensors dequantized to fp32, for `scripts/check-dequantize.py` to compare bit for bit with gguf-py.
/// Works on the GGUF tensor level (any architecture) and before the loader's Q/K un-permutation, so the values are
/// exactly what ggml's dequantization gives. Hidden: a checking tool, not part of the pruning workflow.
struct DumpTensorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-tensor",
        abstract: "Write GGUF tensors dequantized to raw little-endian float32, in file order, one after another.",
        discussion: "Prints the dequantization throughput on stderr (single thread, time spent dequantizing only).",
        shouldDisplay: false)

    @Argument(help: "A GGUF file.") var model: String
    @Argument(help: "Tensor names (default: every tensor, in file order).") var names: [String] = []
    @Option(help: "The output file, or - for stdout.") var out: String

    func run() throws {
        RunSupport.run(threads: nil) { _ in
            let file = try GGUFFile(path: model)
            let tensors = try names.isEmpty ? file.tensors : names.map { name in
                guard let tensor = file.tensor(named: name) else { throw MopError(file: model, "no tensor named \(name)") }
                return tensor
            }
            let writer = out == "-" ? nil : try AtomicFileWriter(path: out)
            var seconds = 0.0
            for tensor in tensors {
                let start = DispatchTime.now().uptimeNanoseconds
                let values = try file.dequantize(tensor).data
                seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                try values.withUnsafeBytes { bytes in
                    if let writer { return try writer.append(bytes) }
                    guard let base = bytes.baseAddress else { return }
                    FileHandle.standardOutput.write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count,
                                                         deallocator: .none))
                }
            }
            try writer?.commit()
            let input = tensors.reduce(0) { $0 + $1.byteCount }, output = tensors.reduce(0) { $0 + 4 * $1.elementCount }
            let megabytes = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1e6) }
            FileHandle.standardError.write(Data(String(
                format: "dump-tensor: %ld tensors, %@ of GGUF data to %@ of fp32 in %.2f s: %.0f MB/s read, %.0f MB/s written\n",
                tensors.count, megabytes(input), megabytes(output), seconds, Double(input) / 1e6 / seconds,
                Double(output) / 1e6 / seconds).utf8))
        }
    }
}
