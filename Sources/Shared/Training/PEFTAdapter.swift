import Foundation

/// LoRA adapters in Hugging Face PEFT's on-disk format: a directory with `adapter_model.safetensors` (F32 tensors
/// `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` [r, in], `...lora_B.weight` [out, r], likewise
/// k/v/o_proj and mlp.gate/up/down_proj) and `adapter_config.json`, loadable by `PeftModel.from_pretrained`.
public enum PEFTAdapter {
    public static let weightsFile = "adapter_model.safetensors"
    public static let configFile = "adapter_config.json"

    /// PEFT's tensor name of A (`isB` false) or B of one adapter of a model of `architecture`.
    public static func tensorName(layer: Int, target: LoRATarget, isB: Bool, architecture: Architecture) -> String {
        "base_model.model.\(ModelWeights.blockPrefix(layer))\(target.modulePath(in: architecture)).lora_\(isB ? "B" : "A").weight"
    }

    /// Writes both files into `directory` (created when missing), each through a temporary file renamed into place.
    public static func save(_ adapters: LoRAAdapters, baseModel: String, to directory: String) throws {
        try DirectoryCreation.create(directory)
        var tensors: [(name: String, tensor: Tensor)] = []
        for entry in adapters.layout.entries {
            let architecture = adapters.layout.architecture
            tensors.append((tensorName(layer: entry.layer, target: entry.target, isB: false, architecture: architecture), adapters.a(entry)))
            tensors.append((tensorName(layer: entry.layer, target: entry.target, isB: true, architecture: architecture), adapters.b(entry)))
        }
        try SafetensorsWriter.write(tensors, dtype: .f32, to: directory + "/" + weightsFile)

        let config = adapters.config
        let json: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": config.rank, "lora_alpha": number(config.alpha),
            "lora_dropout": number(config.dropout), "target_modules": adapters.layout.architecture.loraTargets.filter(config.targets.contains).map { $0.peftName(in: adapters.layout.architecture) }, "bias": "none",
            "base_model_name_or_path": baseModel, "fan_in_fan_out": false, "inference_mode": true,
        ]
        let path = directory + "/" + configFile
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        let output = try AtomicFileWriter(path: path)
        try output.append(data)
        try output.commit()
    }

    /// Reads adapters saved by `save` (or by PEFT with the same targets) for a model of shape `model`. The config
    /// must be a LoRA config mop can apply, and the safetensors file must hold exactly the expected tensors.
    public static func load(from directory: String, model: ModelConfig) throws -> LoRAAdapters {
        let configPath = directory + "/" + configFile
        let data = try RegularFile.read(configPath)
        let config = try parseConfig(JSONFields(data: data, file: configPath), architecture: model.architecture)

        let weightsPath = directory + "/" + weightsFile
        let file = try SafetensorsFile(path: weightsPath)
        let layout = LoRALayout(config: config, model: model)
        var parameters = [Float](repeating: 0, count: layout.count)
        var expected = Set<String>()
        for entry in layout.entries {
            for (isB, range, shape) in [(false, entry.a, [config.rank, entry.inFeatures]),
                                        (true, entry.b, [entry.outFeatures, config.rank])] {
                let name = tensorName(layer: entry.layer, target: entry.target, isB: isB, architecture: model.architecture)
                expected.insert(name)
                guard let tensor = try file.tensor(named: name) else { throw MopError(file: weightsPath, "missing tensor \(name)") }
                guard tensor.shape == shape else {
                    throw MopError(file: weightsPath, "tensor \(name) has shape \(tensor.shape), expected \(shape)")
                }
                guard tensor.data.allSatisfy(\.isFinite) else { throw MopError(file: weightsPath, "tensor \(name) holds NaN or infinity") }
                parameters.replaceSubrange(range, with: tensor.data)
            }
        }
        if let extra = file.names.first(where: { !expected.contains($0) }) {
            throw MopError(file: weightsPath, "unexpected tensor \(extra) (not a LoRA tensor of this model and config)")
        }
        return LoRAAdapters(config: config, layout: layout, parameters: parameters)
    }

    /// The LoRA settings of an adapter_config.json.
    static func parseConfig(_ fields: JSONFields, architecture: Architecture) throws -> LoRAConfig {
        let file = fields.file
        let type = try fields.string("peft_type")
        guard type == "LORA" else { throw MopError(file: file, "peft_type is \(type), only LORA adapters are supported") }
        let rank = try fields.int("r", in: 1...65536)
        let alpha = try fields.double("lora_alpha")
        let dropout = try fields.optionalDouble("lora_dropout") ?? 0
        guard let names = fields.object["target_modules"] as? [String] else {
            throw MopError(file: file, "key target_modules must be an array of module names")
        }
        let targets = try names.map { name in
            guard let target = architecture.loraTargets.first(where: { $0.peftName(in: architecture) == name }) else {
                throw MopError(file: file, "target module \(name) is not one mop adapts")
            }
            return target
        }
        if try fields.optionalBool("fan_in_fan_out") == true { throw MopError(file: file, "fan_in_fan_out adapters are not supported") }
        if let bias = try fields.optionalString("bias"), bias != "none" { throw MopError(file: file, "bias \(bias) is not supported, only none") }
        let config = LoRAConfig(rank: rank, alpha: Float(alpha), dropout: Float(dropout), targets: targets)
        try config.validate(file: file)
        return config
    }

    /// Integral values as JSON integers (PEFT writes lora_alpha=16), others as the shortest decimal of the Float
    /// (0.05, not 0.0500000007).
    static func number(_ value: Float) -> Any {
        if value == value.rounded() && abs(value) < 1e9 { return Int(value) }
        return Double(value.description) ?? Double(value)
    }
}
