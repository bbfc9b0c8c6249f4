import ArgumentParser
import Foundation
import Shared

extension ChatFormat: ExpressibleByArgument {}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text from a prompt with a KV cache (greedy, or sampled).")

    @Argument(help: "A GGUF file, or a Hugging Face / mop output directory.") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "The prompt text.") var prompt: String
    @Option(help: ArgumentHelp("A PNG or JPEG image for a LLaVA model (a directory, or a GGUF with --mmproj): its features fill the prompt's <image> token (one is put first when the prompt has none).", valueName: "file"))
    var image: String?
    @Option(help: ArgumentHelp("llama.cpp's mmproj GGUF (the CLIP tower and projector) of a LLaVA-1.5 whose language model is the GGUF given; the image is letterboxed as llama.cpp's mtmd does.", valueName: "file"))
    var mmproj: String?
    @Option(help: "Tokens to generate at most (fewer at EOS).") var maxNewTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(help: "Nucleus sampling: keep the most likely tokens up to this probability mass.") var topP: Float = 1
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Flag(help: "Wrap the prompt as a user turn in the model's chat template, recognised from its text.") var chat = false
    @Option(help: "Wrap the prompt in this chat format instead of the model's template (implies --chat).")
    var chatTemplate: ChatFormat?
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object on stdout instead of streaming the text.") var json = false

    struct Report: Encodable {
        let model: String
        let prompt: String
        let text: String
        let tokens: [Int32]
        let promptTokens: Int
        /// The ids fed to the model, so a caller can compare them with another tokenizer's (scripts/check-chat-template.py).
        let promptTokenIds: [Int32]
        let seconds: Double
        let tokensPerSecond: Double
        /// Why it stopped: "eos", "max-new-tokens" or "context" (the model's positions ran out).
        let stopped: Generator.Stop
    }

    func validate() throws {
        if mmproj != nil, image == nil { throw ValidationError("--mmproj is read for an --image") }
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or more") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        RunSupport.run(threads: threadOptions.threads) { communicator in
            // Generation is one sequential chain: rank 0 runs it, other ranks of an mpirun job have nothing to share.
            guard communicator.isCoordinator else { return }
            let loaded = try ModelLoader.load(path: model, storage: weightOptions.weights)
            guard let spec = loaded.tokenizer else { throw MopError(file: model, "the model has no tokenizer") }
            let tokenizer = try spec.tokenizer(file: model)
            let chatting = chat || chatTemplate != nil
            let text = chatting ? try ChatTemplate.choose(named: chatTemplate, modelTemplate: spec.chatTemplate, file: model)
                .render([ChatMessage(.user, prompt)], bosToken: spec.text(of: spec.bosTokenId),
                        eosToken: spec.text(of: spec.eosTokenId)) : prompt
            // A rendered template holds its special tokens as text (BOS where it writes one); transformers encodes it
            // without adding more, and so does mop.
            var ids = tokenizer.encode(text, addingSpecialTokens: !chatting)
            let transformer = Transformer(weights: loaded.weights)
            var embeddings: [Float]?
            if let image {
                guard let eyes = try LlavaEyes.find(model: model, text: loaded.weights.config, tokenizer: spec, mmproj: mmproj) else {
                    throw MopError(file: model, "--image needs a LLaVA model directory (config.json model_type llava), or a GGUF with --mmproj")
                }
                if mmproj != nil, !spec.vocabulary.contains(LlavaVision.marker) {
                    ids = try LlavaVision.markedPrompt(text, tokenizer: tokenizer, placeholder: eyes.vision.config.imageTokenId,
                                                       addingSpecialTokens: !chatting, file: model)
                }
                (ids, embeddings) = try eyes.vision.imagePrompt(ids, imagePath: image, preprocessor: eyes.preprocessor,
                                                                preprocessorFile: eyes.preprocessorFile, transformer: transformer,
                                                                bos: spec.bosTokenId)
            }
            let positions = loaded.weights.config.maxPositions
            guard !ids.isEmpty else { throw MopError("the prompt has no tokens") }
            guard ids.count < positions else {
                throw MopError(file: model, "the prompt has \(ids.count) tokens, the model holds \(positions) positions")
            }
            let start = Date()
            let generator = Generator(model: transformer)
            var streamed: [Int32] = [], printed = ""
            let stopTokens = Set([spec.eosTokenId].compactMap { $0 })
            let generation = try generator.generate(
                prompt: ids, promptEmbeddings: embeddings, maxNewTokens: maxNewTokens,
                sampler: TokenSampler(temperature: temperature, topP: topP, seed: seed), stopTokens: stopTokens, file: model
            ) { token in
                guard !json, !stopTokens.contains(token) else { return }
                // Decode the whole tail each time: a character may span tokens, so print only what has settled.
                streamed.append(token)
                let decoded = tokenizer.decode(streamed)
                if !decoded.hasSuffix("\u{FFFD}") {
                    FileHandle.standardOutput.write(Data(String(decoded.dropFirst(printed.count)).utf8))
                    printed = decoded
                }
            }
            let seconds = Date().timeIntervalSince(start)
            let tokens = generation.tokens
            let output = tokenizer.decode(tokens.filter { !stopTokens.contains($0) })
            if json {
                return try RunSupport.printJSON(Report(model: model, prompt: text, text: output, tokens: tokens,
                                                       promptTokens: ids.count, promptTokenIds: ids, seconds: seconds,
                                                       tokensPerSecond: Double(tokens.count) / seconds,
                                                       stopped: generation.stop))
            }
            FileHandle.standardOutput.write(Data(String(output.dropFirst(printed.count)).utf8 + Data("\n".utf8)))
            FileHandle.standardError.write(Data(String(format: "%ld tokens in %.1f s, %.1f tokens/s\n", tokens.count,
                                                       seconds, Double(tokens.count) / seconds).utf8))
            let reason = switch generation.stop {
            case .eos: "the end-of-sequence token"
            case .maxNewTokens: "--max-new-tokens \(maxNewTokens)"
            case .context: "the model's \(positions) positions"
            }
            FileHandle.standardError.write(Data("generate: stopped at \(reason)\n".utf8))
        }
    }
}
