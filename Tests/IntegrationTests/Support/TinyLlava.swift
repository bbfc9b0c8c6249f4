import Foundation
@testable import Shared

/// A tiny LLaVA-1.5 directory for runs of the binary: the committed fixture's config, processor and tokenizer
/// (scripts/make-llava-fixture.py: CLIP of 3 layers on 32 x 32 pixels giving 16 feature rows, LLaMA of 2 layers,
/// `<image>` = 384) with seeded random weights in transformers 5.25's `save_pretrained` layout, and its test PNG.
enum TinyLlava {
    static let fixture = RealInputs.packageRoot.appendingPathComponent("Tests/SharedTests/Fixtures/families/llava")
    static let carried = ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "image.png"]

    /// Writes the model into `directory`/llava and returns its path (image.png inside).
    static func model(in directory: String) throws -> String {
        let path = directory + "/llava", language = directory + "/llava-language-model"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for file in carried {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent(file).path, toPath: path + "/" + file)
        }
        let configData = try RegularFile.read(path + "/config.json")
        let text = try HFConfig.parse(data: configData, file: path)
        let vision = try LlavaVision.Config(fields: try JSONFields(data: configData, file: path), text: text)
        // The language model under its family's names, then under the LLaVA layout's.
        try HFModelDirectory.write(ModelWeights.random(config: text, seed: 5), to: language)
        let (entries, read, _) = try HFModelDirectory.storedTensors(in: language)
        var tensors: [(name: String, tensor: Tensor)] = try entries.map { entry in
            ("language_model." + entry.name, try read(entry.name, .fp32)!)
        }
        var rng = SeededRandom(seed: 6)
        for (name, shape) in vision.tensorShapes {
            let count = shape.reduce(1, *)
            let scale: Float = shape.count == 1 ? 0.1 : 1 / Float(count / shape[0]).squareRoot()
            let offset: Float = shape.count == 1 && name.contains("norm") && name.hasSuffix(".weight") ? 1 : 0
            tensors.append((name, Tensor(shape: shape, data: (0..<count).map { _ in offset + rng.uniform(scale) })))
        }
        try SafetensorsWriter.write(tensors, dtype: .f32, to: path + "/model.safetensors")
        try FileManager.default.removeItem(atPath: language)
        return path
    }

    /// Each tensor's raw bytes in a safetensors file, by name.
    static func rawTensors(_ path: String) throws -> [String: Data] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any] ?? [:]
        var tensors: [String: Data] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let offsets = (value as? [String: Any])?["data_offsets"] as? [Int] else { continue }
            tensors[name] = data.subdata(in: (8 + length + offsets[0])..<(8 + length + offsets[1]))
        }
        return tensors
    }
}
