import Shared

/// The residual stream entering some blocks of the current model, kept from a statistics pass over a part of the
/// calibration set, one array [rows of the micro-batch, D] per micro-batch: a candidate that leaves every block
/// before block j as it is (the depth step removing block j) resumes from the last kept input at or before j instead
/// of running the blocks before it again, with the same arithmetic. Which blocks keep theirs follows a byte budget:
/// evenly spaced from the last block down (the similarity rule tends to remove late blocks), never block 0 (its input
/// is the embedding).
final class BlockInputs: ForwardObserver {
    /// The blocks whose inputs are kept, ascending.
    let blocks: [Int]
    /// inputs[b][i]: the input of blocks[b] in micro-batch i.
    private var inputs: [[[Float]]]

    /// For a model of `layers` blocks, keeping `budget` bytes at most when each kept block costs `blockBytes`.
    init(layers: Int, blockBytes: Int, budget: Int) {
        let fitting = min(layers - 1, budget / max(blockBytes, 1))
        let spacing = fitting > 0 ? (layers - 1 + fitting - 1) / fitting : 0
        blocks = fitting > 0 ? Array(stride(from: layers - 1, through: 1, by: -spacing).reversed()) : []
        inputs = blocks.map { _ in [] }
    }

    func block(layer: Int, input: [Float], output: [Float], segments: [Range<Int>]) {
        guard let index = blocks.firstIndex(of: layer) else { return }
        inputs[index].append(input)
    }

    /// The last kept block at or before `block`, with its inputs per micro-batch; nil when there is none.
    func resumption(atOrBefore block: Int) -> (block: Int, inputs: [[Float]])? {
        guard let index = blocks.lastIndex(where: { $0 <= block }) else { return nil }
        return (blocks[index], inputs[index])
    }

    /// The first block a mask changes: skipped, or with heads or neurons masked; the block count when it changes none.
    static func firstChanged(by mask: ModelMask) -> Int {
        mask.layers.firstIndex { layer in layer.map { $0.heads != nil || $0.neurons != nil } ?? true } ?? mask.layers.count
    }
}
