/// The Q/K row order of GGUF files. llama.cpp rotates adjacent pairs (x[2i], x[2i+1]) while Hugging Face's
/// `rotate_half` pairs x[i] with x[i + hd/2], so llama.cpp's converter permutes the rows of every head:
/// `w.reshape(heads, 2, hd/2, D).swapaxes(1, 2).reshape(heads*hd, D)`.
/// GGUF row h*hd + 2i + j holds Hugging Face row h*hd + j*hd/2 + i (i < hd/2, j < 2). The order belongs to the
/// GGUF architecture name, whose RoPE llama.cpp applies: `llama` and `deci` rotate adjacent pairs (rows permuted),
/// the names a family lists in `Architecture.ggufHalfRotation` (`qwen2`, ...) rotate halves (NEOX,
/// rows in Hugging Face order). The family's norm offset (Gemma's 1 + w) is the other difference of its GGUF layout.
public enum GGUFRopeOrder {
    /// `weights` in the GGUF layout of `ggufArchitecture` (`toGGUF`) or back: every Q/K tensor (and bias) of every
    /// block moved between the orders when that name permutes them, every norm weight shifted by the family's
    /// GGUF norm offset. Absent tensors (another pipeline stage's) stay absent.
    static func convert(_ weights: ModelWeights, toGGUF: Bool, ggufArchitecture: String) -> ModelWeights {
        let config = weights.config
        let offset = config.architecture.ggufNormOffset
        var converted = weights
        if offset != 0 {
            let shift = toGGUF ? offset : -offset
            func shifted(_ norm: Tensor) -> Tensor {
                norm.isAbsent ? norm : Tensor(shape: norm.shape, data: norm.data.map { $0 + shift })
            }
            converted.finalNorm = shifted(weights.finalNorm)
            for index in config.layers.indices {
                for tensor in config.architecture.blockTensors where tensor.role.isNorm {
                    converted.layers[index][tensor.role] = shifted(weights.layers[index][tensor.role]!)
                }
            }
        }
        guard !config.architecture.ggufHalfRotation.contains(ggufArchitecture) else { return converted }
        for (index, shape) in config.layers.enumerated() {
            for tensor in config.architecture.blockTensors {
                guard let heads = tensor.ropeHeads(shape) else { continue }
                converted.layers[index][tensor.role] = reorder(weights.layers[index][tensor.role]!, heads: heads,
                                                               headDim: config.headDim, toGGUF: toGGUF)
            }
        }
        return converted
    }

    /// Hugging Face rows -> GGUF rows, for a [heads*headDim, D] matrix.
    public static func toGGUF(_ matrix: Tensor, heads: Int, headDim: Int) -> Tensor {
        reorder(matrix, heads: heads, headDim: headDim, toGGUF: true)
    }

    /// GGUF rows -> Hugging Face rows, for a [heads*headDim, D] matrix.
    public static func toHF(_ matrix: Tensor, heads: Int, headDim: Int) -> Tensor {
        reorder(matrix, heads: heads, headDim: headDim, toGGUF: false)
    }

    /// Row `to` of a reordered [heads*headDim, D] matrix reads row `from[to]` of the matrix.
    private static func rowOrder(heads: Int, headDim: Int, toGGUF: Bool) -> [Int] {
        let half = headDim / 2
        var from = [Int](repeating: 0, count: heads * headDim)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let gguf = h * headDim + 2 * i + j, hf = h * headDim + j * half + i
                    if toGGUF { from[gguf] = hf } else { from[hf] = gguf }
                }
            }
        }
        return from
    }

    /// The shape must be [heads*headDim, cols] with an even headDim; callers pass tensors already checked against the config.
    private static func reorder(_ matrix: Tensor, heads: Int, headDim: Int, toGGUF: Bool) -> Tensor {
        precondition(matrix.rows == heads * headDim && headDim % 2 == 0, "Q/K matrix \(matrix.shape) is not \(heads) heads of \(headDim) rows")
        // Another pipeline stage's tensor: that stage reorders it.
        guard !matrix.isAbsent else { return matrix }
        let cols = matrix.cols, from = rowOrder(heads: heads, headDim: headDim, toGGUF: toGGUF)
        if let stored = matrix.stored { return Tensor(stored: stored.gatheringRows(from)) }
        // A merged adapter stays factored: its B's rows move with the stored rows they add to.
        if let encoded = matrix.encoded, let update = matrix.lowRank {
            return Tensor(stored: encoded.gatheringRows(from), adding: update.gatheringRows(from))
        }
        var data = [Float](repeating: 0, count: matrix.count)
        matrix.data.withUnsafeBufferPointer { source in
            data.withUnsafeMutableBufferPointer { target in
                for (to, row) in from.enumerated() {
                    _ = UnsafeMutableBufferPointer(rebasing: target[(to * cols)..<((to + 1) * cols)])
                        .update(fromContentsOf: source[(row * cols)..<((row + 1) * cols)])
                }
            }
        }
        return Tensor(shape: matrix.shape, data: data)
    }
}
