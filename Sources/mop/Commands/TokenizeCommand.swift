import ArgumentParser
import Foundation
import Shared

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text with a model's tokenizer (weights are not read; any architecture).",
        discussion: "No BOS is added unless --add-bos; special tokens in the text are matched whole. "
            + "scripts/check-tokenizer.py compares the ids with Hugging Face tokenizers.")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @Option(help: "A UTF-8 text file to tokenize.") var text: String?
    @Option(help: "A string to tokenize (instead of --text).") var string: String?
    @Flag(help: "Start with the BOS token when the tokenizer asks for one.") var addBos = false
    @Flag(help: "Print one JSON object on stdout.") var json = false

    struct Report: Encodable {
        let tokens: Int
        let ids: [Int32]
        let seconds: Double
        /// Whether decoding the ids gives the text back (special tokens in the text decode as their text).
        let decodesBack: Bool
    }

    func validate() throws {
        guard (text == nil) != (string == nil) else { throw ValidationError("give exactly one of --text and --string") }
    }

    func run() throws {
        RunSupport.run(threads: nil) { communicator in
            guard communicator.isCoordinator else { return }
            guard let spec = try ModelLoader.tokenizer(path: model) else { throw MopError(file: model, "carries no tokenizer") }
            let tokenizer = try spec.tokenizer(file: model)
            let input = try text.map { try TextFile.read($0) } ?? string ?? ""
            let start = Date()
            // BOS (and an EOS the file asks for) only with --add-bos.
            let ids = tokenizer.encode(input, addingSpecialTokens: addBos)
            let seconds = Date().timeIntervalSince(start)
            if json {
                let report = Report(tokens: ids.count, ids: ids, seconds: seconds, decodesBack: tokenizer.decode(ids) == input)
                return try RunSupport.printJSON(report)
            }
            RunSupport.printLine(ids.map(String.init).joined(separator: " "))
        }
    }
}
