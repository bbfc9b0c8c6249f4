import ArgumentParser
import Shared

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Print a model's architecture, parameter counts and the memory its weights take.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Flag(help: "Print one JSON object on stdout.") var json = false

    struct Report: Encodable {
        let model: String
        let format: String
        let architecture: String
        let layers: Int
        let hidden: Int
        let headDim: Int
        let heads: [Int]
        let kvHeads: [Int]
        let intermediate: [Int]
        let vocab: Int
        let tiedEmbeddings: Bool
        let ropeTheta: Float
        let parameters: Int
        let nonEmbeddingParameters: Int
        /// The stored tensors by element type in the file (`F32`, `BF16`, `Q8_0`, ...), most common first.
        let tensorTypes: [TensorTypeCount]
        /// How the weight matrices are held (`--weights`), the bytes they take in memory and per parameter.
        let weights: String
        let bytesHeld: Int
        let bytesPerParameter: Double
        /// The OpenBLAS kernel family this machine's products run with (`BLASKernel`).
        let blasKernel: String
        /// The instruction set mop's own kernels run with (`QuantKernels`).
        let kernelIsa: String
    }

    struct TensorTypeCount: Encodable {
        let type: String
        let count: Int
    }

    func run() throws {
        RunSupport.run(threads: nil) { communicator in
            let description = try ModelLoader.describe(path: model)
            guard communicator.isCoordinator else { return }
            let c = description.config
            let held = try ModelLoader.load(path: model, storage: weightOptions.weights).weights.namedTensors()
                .reduce(0) { $0 + $1.tensor.bytesHeld }
            let report = Report(model: model, format: description.format.rawValue, architecture: description.architecture,
                                layers: c.layers.count, hidden: c.hidden, headDim: c.headDim,
                                heads: c.layers.map(\.heads), kvHeads: c.layers.map(\.kvHeads),
                                intermediate: c.layers.map(\.intermediate), vocab: c.vocabSize,
                                tiedEmbeddings: c.tiedEmbeddings, ropeTheta: c.ropeTheta,
                                parameters: c.parameters, nonEmbeddingParameters: c.nonEmbeddingParameters,
                                tensorTypes: description.tensorTypes.map { TensorTypeCount(type: $0.type.name, count: $0.count) },
                                weights: weightOptions.weights.rawValue, bytesHeld: held,
                                bytesPerParameter: Double(held) / Double(max(1, c.parameters)),
                                blasKernel: BLASKernel.coreName, kernelIsa: QuantKernels.isa)
            if json { return try RunSupport.printJSON(report) }
            func summary(_ values: [Int]) -> String { Set(values).count == 1 ? "\(values[0]) in every layer" : "\(values)" }
            RunSupport.printLine("""
                \(model) (\(report.format), architecture \(report.architecture))
                layers:        \(report.layers)
                hidden:        \(report.hidden) (head dim \(report.headDim), RoPE theta \(report.ropeTheta))
                heads:         \(summary(report.heads))
                kv heads:      \(summary(report.kvHeads))
                intermediate:  \(summary(report.intermediate))
                vocabulary:    \(report.vocab)\(report.tiedEmbeddings ? " (tied embeddings)" : "")
                parameters:    \(report.parameters) (\(report.nonEmbeddingParameters) without embeddings)
                tensor types:  \(report.tensorTypes.map { "\($0.type) x \($0.count)" }.joined(separator: ", "))
                weights held:  \(String(format: "%.1f MB", Double(report.bytesHeld) / 1e6)) \(report.weights), \(String(format: "%.2f", report.bytesPerParameter)) bytes per parameter
                BLAS kernel:   \(report.blasKernel) (OpenBLAS)
                mop kernels:   \(report.kernelIsa)
                """)
        }
    }
}
