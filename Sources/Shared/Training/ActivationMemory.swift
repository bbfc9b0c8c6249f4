import Foundation

/// Where a training step's backward finds the activations it reads (`--activation-memory`).
///
/// - `recompute`: the forward keeps only the residual stream entering every block (blocks + 1 arrays of [N, D]) and
///   the backward runs each block's forward again, recording it, just before its backward: one block's activations
///   alive at a time, for one more forward of the blocks (about a third more products per step).
/// - `keep`: the forward records every block and the backward reads those records, as PyTorch's autograd does: no
///   second forward, for every block's activations alive at once (about 30 MB a block for SmolLM2 at 512 tokens
///   with dropout, 0.9 GB in all; they grow with the tokens of a micro-batch and the model's widths).
/// - `auto`: records the first block, and keeps when that block's bytes times the blocks fit in half of the memory
///   this process may still take (`AvailableMemory`), else recomputes.
/// Both give the same loss and gradients up to the order of float sums (the same products on the same inputs).
public enum ActivationMemory: String, CaseIterable, Codable, Sendable {
    case keep, recompute, auto

    /// Whether a step whose `blocks` blocks each hold about `blockBytes` keeps them, given `available` bytes.
    public func keeps(blockBytes: Int, blocks: Int, available: Int) -> Bool {
        switch self {
        case .keep: return true
        case .recompute: return false
        case .auto:
            let (total, overflow) = blockBytes.multipliedReportingOverflow(by: blocks)
            return !overflow && total <= available / 2
        }
    }
}
