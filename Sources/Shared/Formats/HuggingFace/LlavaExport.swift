import Foundation

/// Writes a pruned LLaVA back as the container it came from: mop writes the pruned language model as a plain directory
/// of its family, and this turns that directory into a `LlavaForConditionalGeneration` checkpoint again: config.json is
/// the original's with `text_config` replaced by the pruned model's config, model.safetensors holds the language
/// model's tensors under the original's key layout and every vision-tower and projector tensor of the original under
/// its own name, in its own type (so its bytes are the original's), and the original's processor and tokenizer files
/// replace mop's (LLaVA's tokenizer holds `<image>`, its processor the image steps).
public enum LlavaExport {
    /// The files carried from the original, when it has them.
    static let carriedFiles = [
        "preprocessor_config.json", "processor_config.json", "chat_template.json", "chat_template.jinja",
        "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "added_tokens.json",
        "generation_config.json",
    ]

    /// True when the model directory at `path` is a LLaVA checkpoint.
    public static func isLlava(_ path: String) -> Bool {
        let configPath = (path as NSString).appendingPathComponent(HFModelDirectory.configName)
        guard let data = try? RegularFile.read(configPath), let fields = try? JSONFields(data: data, file: configPath) else { return false }
        return LlavaContainer.holds(fields)
    }

    /// Rewrites the language-model directory `folder` (as `HFModelDirectory.write` left it) into the LLaVA checkpoint
    /// of the original at `original`.
    public static func wrap(folder: String, original: String) throws {
        func path(_ directory: String, _ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let originalConfigPath = path(original, HFModelDirectory.configName)
        guard var config = try JSONSerialization.jsonObject(with: try RegularFile.read(originalConfigPath)) as? [String: Any] else {
            throw MopError(file: originalConfigPath, "not a JSON object")
        }
        let textConfigPath = path(folder, HFModelDirectory.configName)
        guard var text = try JSONSerialization.jsonObject(with: try RegularFile.read(textConfigPath)) as? [String: Any] else {
            throw MopError(file: textConfigPath, "not a JSON object")
        }
        // The container's keys (dtype, the class) stay the original's; the text config keeps what describes the model.
        for key in ["architectures", "torch_dtype", "transformers_version"] { text.removeValue(forKey: key) }
        config["text_config"] = text

        let (originalEntries, readOriginal, originalFile) = try HFModelDirectory.storedTensors(in: original)
        let originalNames = originalEntries.map(\.name)
        let languageNames = try LlavaContainer.uniqueNames(originalNames, file: originalFile, LlavaContainer.languageModelName(ofStored:))
        // The original's prefixes: where its embedding and its head were stored.
        let bodyPrefix = try prefix(of: "model.embed_tokens.weight", in: languageNames, default: "language_model.model.", file: originalFile)
        let headPrefix = try prefix(of: "lm_head.weight", in: languageNames, default: "language_model.lm_head.", file: originalFile)

        let (entries, readPruned, prunedFile) = try HFModelDirectory.storedTensors(in: folder)
        var tensors: [(name: String, tensor: Tensor, dtype: SafetensorsDType)] = []
        for entry in entries {
            guard let tensor = try readPruned(entry.name, .fp32) else { throw MopError(file: prunedFile, "tensor \(entry.name) vanished") }
            let name = entry.name.hasPrefix("lm_head.") ? headPrefix + entry.name.dropFirst("lm_head.".count)
                : entry.name.hasPrefix("model.") ? bodyPrefix + entry.name.dropFirst("model.".count) : entry.name
            tensors.append((name, tensor, entry.dtype))
        }
        for entry in originalEntries where LlavaContainer.visionName(ofStored: entry.name) != nil {
            guard let tensor = try readOriginal(entry.name, .fp32) else { throw MopError(file: originalFile, "tensor \(entry.name) vanished") }
            tensors.append((entry.name, tensor, entry.dtype))
        }
        let configData = try JSONTextWriter.data(config, file: textConfigPath)
        try SafetensorsWriter.write(tensors, to: path(folder, HFModelDirectory.weightsName))
        try AtomicFileWriter.write(configData, to: textConfigPath)
        for name in carriedFiles where FileManager.default.fileExists(atPath: path(original, name)) {
            try AtomicFileWriter.write(try RegularFile.read(path(original, name)), to: path(folder, name))
        }
    }

    /// The prefix the original stored `family` name's first component under: "language_model.model." for
    /// "model.embed_tokens.weight" stored as "language_model.model.embed_tokens.weight"; `fallback` when absent (a tied head).
    private static func prefix(of family: String, in names: [String: String], default fallback: String, file: String) throws -> String {
        guard let stored = names[family] else { return fallback }
        let rest = family[family.firstIndex(of: ".")!...].dropFirst()
        guard stored.hasSuffix(rest) else { throw MopError(file: file, "cannot tell the key layout from \(stored)") }
        return String(stored.dropLast(rest.count))
    }

    /// Writes the LLaVA checkpoint at `original`'s tower and projector as llama.cpp's mmproj at `path` (`GGUFMmproj`),
    /// the half of llama.cpp's pair beside the pruned language model's GGUF; normalised as its preprocessor_config.json
    /// says (CLIP's mean and deviation when it has none).
    public static func writeMmproj(original: String, text: ModelConfig, to path: String) throws {
        guard let vision = try LlavaVision.load(path: original, text: text) else { throw MopError(file: original, "not a LLaVA checkpoint") }
        let processor = (original as NSString).appendingPathComponent(ImagePreprocessor.fileName)
        let preprocessor = FileManager.default.fileExists(atPath: processor) ? try ImagePreprocessor.read(directory: original)
            : try ImagePreprocessor(data: Data("{}".utf8), file: processor)
        guard let normalize = preprocessor.normalize else {
            throw MopError(file: processor, "do_normalize is false; llama.cpp's mmproj always normalises")
        }
        try GGUFMmproj.write(vision, mean: normalize.mean, std: normalize.std,
                             name: (original as NSString).lastPathComponent, to: path)
    }
}
