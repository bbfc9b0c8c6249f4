/// How a rank holds the weight matrices of a model file (`--weights`); vectors (norms, biases) are always fp32.
public enum WeightStorage: String, CaseIterable, Codable, Sendable {
    /// As the file stores them, memory-mapped and decoded a panel at a time (`StoredMatrix`): memory about the file's
    /// size, values and products exactly those of `fp32`.
    case stored
    /// Rounded to bfloat16 (nearest even) in memory: 2 bytes per weight whatever the file holds.
    case bf16
    /// Decoded to fp32 once at load: 4 bytes per weight, no decoding in the products.
    case fp32

    /// The matrix `matrix` reads from a model file, held this way.
    public func hold(_ matrix: StoredMatrix) -> Tensor {
        switch self {
        case .stored:
            return Tensor(stored: matrix)
        case .fp32:
            return Tensor(shape: [matrix.rows, matrix.columns], data: matrix.dequantized())
        case .bf16 where matrix.type == .bf16:
            return Tensor(stored: matrix)
        case .bf16:
            let rowBytes = matrix.columns * 2
            let source = MappedFile(count: matrix.rows * rowBytes, path: matrix.source.path) { out in
                matrix.forEachPanel(rows: max(1, (1 << 20) / matrix.columns)) { panel, start, count in
                    SafetensorsDType.bf16.encode(UnsafeBufferPointer(start: panel, count: count * matrix.columns),
                                                 into: UnsafeMutableRawBufferPointer(rebasing: out[(start * rowBytes)..<((start + count) * rowBytes)]))
                }
            }
            // The bytes were sized for exactly these rows, so the matrix fits.
            return Tensor(stored: StoredMatrix(source: source, offset: 0, type: .bf16, rows: matrix.rows, columns: matrix.columns)!)
        }
    }
}
