@testable import Shared

/// The model the pipeline tests split into stages: six blocks of different shapes (grouped-query and full attention,
/// uneven widths), so that a stage boundary falls between unlike blocks.
enum PipelineTestModel {
    static let config = ModelConfig(vocabSize: 41, hidden: 16, headDim: 4,
                                    layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24),
                                             LayerShape(heads: 2, kvHeads: 2, intermediate: 12),
                                             LayerShape(heads: 4, kvHeads: 1, intermediate: 20),
                                             LayerShape(heads: 4, kvHeads: 2, intermediate: 16),
                                             LayerShape(heads: 2, kvHeads: 1, intermediate: 28),
                                             LayerShape(heads: 4, kvHeads: 4, intermediate: 8)],
                                    tiedEmbeddings: true, maxPositions: 64)

    /// `original` with every tensor outside `part` filled with NaN: a stage that used one would answer NaN.
    static func poisoned(_ original: ModelWeights, outside part: ModelPart) -> ModelWeights {
        func nan(_ tensor: Tensor) -> Tensor { Tensor(shape: tensor.shape, data: [Float](repeating: .nan, count: tensor.count)) }
        let layers = original.layers.enumerated().map { index, layer in
            part.blocks.contains(index) ? layer
                : LayerWeights(architecture: original.config.architecture) { nan(layer[$0]!) }
        }
        let keepsEmbedding = part.holds(original.config.architecture.embeddingTensor.hf, config: original.config)
        return ModelWeights(config: original.config, embedding: keepsEmbedding ? original.embedding : nan(original.embedding),
                            layers: layers, finalNorm: part.head ? original.finalNorm : nan(original.finalNorm),
                            output: original.output)
    }
}
