/// The element-wise parts of a linear layer and of residual wiring: a bias added after a product (its backward
/// passes dy through unchanged, the bias being frozen) and the sum of two branches (its backward hands dy to both).
/// The products themselves are `BLAS.linear` / `LoRALinear`.
enum Linear {
    /// y [rows, n] += bias [n] on every row.
    static func addBias(_ bias: Tensor, to y: inout [Float], rows: Int) {
        let n = bias.count
        precondition(y.count == rows * n, "bias of \(n) for \(y.count) values")
        y.withUnsafeMutableBufferPointer { yp in
            bias.data.withUnsafeBufferPointer { bp in
                for r in 0..<rows {
                    let row = yp.baseAddress! + r * n
                    for c in 0..<n { row[c] += bp[c] }
                }
            }
        }
    }

    /// a + b element-wise (a residual add).
    static func sum(_ a: [Float], _ b: [Float]) -> [Float] {
        var result = a
        add(b, to: &result)
        return result
    }

    /// x += y element-wise.
    static func add(_ y: [Float], to x: inout [Float]) {
        precondition(x.count == y.count, "adding \(y.count) values to \(x.count)")
        for i in x.indices { x[i] += y[i] }
    }
}
