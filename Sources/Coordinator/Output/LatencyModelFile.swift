import Foundation
import Shared

/// DIR/latency-model.json: the latency model a `--target-latency` search stops by, kept beside its checkpoint so a
/// resumed search predicts exactly as the interrupted one did.
public enum LatencyModelFile {
    public static let name = "latency-model.json"

    public static func path(in directory: String) -> String { (directory as NSString).appendingPathComponent(name) }

    public static func write(_ model: LatencyModel, directory: String) throws {
        try AtomicFileWriter.write(CoordinatorJSON.encode(model), to: path(in: directory))
    }

    /// The model in `directory`, nil when there is none; a file that is not a usable model is a `MopError` naming it.
    public static func read(directory: String) throws -> LatencyModel? {
        let file = path(in: directory)
        return FileManager.default.fileExists(atPath: file) ? try read(file: file) : nil
    }

    /// The model in `file`; a missing file or one that is not a usable model is a `MopError` naming it.
    public static func read(file: String) throws -> LatencyModel {
        // A latency model is a few kilobytes; anything near a megabyte is not one.
        let data = try RegularFile.read(file, limit: 1 << 20)
        let model = try CoordinatorJSON.decode(LatencyModel.self, from: data, file: file)
        guard model.coefficients.allSatisfy(\.isFinite), !model.samples.isEmpty,
              model.samples.allSatisfy({ model.seconds($0) > 0 }) else {
            throw MopError(file: file, "is not a usable latency model (coefficients not finite, no probes, or a "
                           + "predicted latency of 0 or less)")
        }
        return model
    }
}
