extension Rope {
    /// The backward of `apply`: RoPE is a rotation per (position, pair), so the gradient rotates back by the
    /// opposite angle. dx: [T, heads*hd], in place, row t at position startPosition + t.
    public func applyInverse(_ dx: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, startPosition: Int = 0) {
        precondition(startPosition + tokens <= positions, "RoPE table holds \(positions) positions")
        let half = headDim / 2
        let width = heads * headDim
        for t in 0..<tokens {
            let table = (startPosition + t) * half
            for h in 0..<heads {
                let head = dx + t * width + h * headDim
                for i in 0..<half {
                    let c = cosTable[table + i], s = sinTable[table + i]
                    let d1 = head[i], d2 = head[i + half]
                    head[i] = d1 * c + d2 * s
                    head[i + half] = d2 * c - d1 * s
                }
            }
        }
    }
}
