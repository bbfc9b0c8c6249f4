/// Keys and values of every layer for the positions decoded so far, so a decode step computes q/k/v for the new
/// tokens only. Per layer: keys and values [positions, KV*hd], already rotated by RoPE at their positions.
public struct KVCache: Sendable {
    /// Positions held (the position of the next token).
    public private(set) var count = 0
    private var keys: [[Float]]
    private var values: [[Float]]
    private let widths: [Int]

    public init(config: ModelConfig) {
        widths = config.layers.map { $0.kvHeads * config.headDim }
        keys = widths.map { _ in [] }
        values = widths.map { _ in [] }
    }

    /// Appends the new tokens' k and v [T, KV*hd] of `layer`. Every layer stores the same tokens, then `advance`.
    mutating func store(layer: Int, k: [Float], v: [Float]) {
        precondition(k.count == v.count && k.count % widths[layer] == 0 && keys[layer].count == count * widths[layer])
        keys[layer].append(contentsOf: k)
        values[layer].append(contentsOf: v)
    }

    /// Marks `tokens` more positions as held, once every layer has stored them.
    mutating func advance(by tokens: Int) {
        count += tokens
        precondition(zip(keys, widths).allSatisfy { $0.count == count * $1 }, "a layer missed its KV store")
    }

    /// Attention output [T, H*hd] of T new tokens (rotated q: [T, H*hd]) at positions count..<count+T of `layer`,
    /// whose k and v were stored already: new token t attends to cached positions 0...count+t.
    func attend(layer: Int, q: [Float], tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
                window: Attention.Window) -> [Float] {
        let past = keys[layer].count / widths[layer] - tokens
        var z = [Float](repeating: 0, count: tokens * heads * headDim)
        var scores = [Float](repeating: 0, count: Attention.scratchCount(tokens: tokens, past: past))
        q.withUnsafeBufferPointer { qp in
            keys[layer].withUnsafeBufferPointer { kp in
                values[layer].withUnsafeBufferPointer { vp in
                    z.withUnsafeMutableBufferPointer { zp in
                        scores.withUnsafeMutableBufferPointer { sp in
                            Attention.attend(q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, z: zp.baseAddress!,
                                             tokens: tokens, past: past, heads: heads, kvHeads: kvHeads,
                                             headDim: headDim, window: window, scratch: sp.baseAddress!)
                        }
                    }
                }
            }
        }
        return z
    }
}
