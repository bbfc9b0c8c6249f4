/// The tensors one rank holds of a model: a pipeline stage's contiguous blocks, the embedding when it is the first
/// stage, the final norm and output matrix when it is the last (with tied embeddings the last stage multiplies by the
/// embedding, so it holds that too). A loader maps the whole file but touches only these tensors (no check, no
/// decoding of the others), so the pages of the rest never become resident.
public struct ModelPart: Equatable, Sendable, Codable {
    public let blocks: Range<Int>
    /// Embedding lookups (the first stage).
    public let embeds: Bool
    /// Final norm and output matrix (the last stage).
    public let head: Bool

    public init(blocks: Range<Int>, embeds: Bool, head: Bool) {
        self.blocks = blocks
        self.embeds = embeds
        self.head = head
    }

    /// Every tensor of a model with `layers` blocks.
    public static func whole(layers: Int) -> ModelPart { ModelPart(blocks: 0..<layers, embeds: true, head: true) }

    /// Whether the tensor named `name` (Hugging Face name) is held.
    public func holds(_ name: String, config: ModelConfig) -> Bool {
        let outer = config.architecture.outer
        if name == outer.embedding.hf { return embeds || (head && config.tiedEmbeddings) }
        if [outer.finalNorm, outer.output, outer.finalNormBias, outer.outputBias].contains(where: { $0?.hf == name }) { return head }
        return blocks.contains { name.hasPrefix(ModelWeights.blockPrefix($0)) }
    }

    /// Whether this stage writes the tensor named `name` of an export: one it holds, the embedding only on the first
    /// stage (the last holds it too under tied embeddings, to multiply by), so every tensor has one writer.
    public func writes(_ name: String, config: ModelConfig) -> Bool {
        name == config.architecture.outer.embedding.hf ? embeds : holds(name, config: config)
    }

    /// The held tensors of `weights`, in file order.
    public func tensors(of weights: ModelWeights) -> [(name: String, tensor: Tensor)] {
        weights.namedTensors().filter { holds($0.name, config: weights.config) }
    }

    /// Bytes the held tensors take in memory (`Tensor.bytesHeld`).
    public func bytesHeld(_ weights: ModelWeights) -> Int { tensors(of: weights).reduce(0) { $0 + $1.tensor.bytesHeld } }
}
