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
}
