/// The LLaMA forward pass in fp32 over a batch of token sequences (possibly of different lengths).
/// Rows of all sequences are stacked, [N = sum of lengths, D], so every linear layer is one large product;
/// attention runs per sequence. Positions restart at 0 in every sequence, except in a sequence that continues a
/// prefix (`prefixes`): it starts where its prefix ends and attends to the prefix's rows, which are computed once for
/// every sequence that continues them (the zero-shot scorer's shared contexts).
public struct Transformer: Sendable {
    public let weights: ModelWeights
    public let rope: Rope

    public init(weights: ModelWeights) {
        self.weights = weights
        rope = Rope(config: weights.config, positions: weights.config.maxPositions)
    }

    public var config: ModelConfig { weights.config }

    /// Row ranges of each sequence in the stacked batch.
    public static func segments(_ batch: [[Int32]]) -> [Range<Int>] {
        var start = 0
        return batch.map { sequence in
            defer { start += sequence.count }
            return start..<(start + sequence.count)
        }
    }

    /// Embedding rows of the tokens: [N, D].
    public func embed(_ batch: [[Int32]]) -> [Float] {
        let d = config.hidden
        var x = [Float](repeating: 0, count: batch.reduce(0) { $0 + $1.count } * d)
        var row = 0
        for token in batch.joined() {
            precondition(token >= 0 && Int(token) < config.vocabSize, "token id \(token) outside the vocabulary")
            let source = Int(token) * d
            x.replaceSubrange(row * d..<(row + 1) * d, with: weights.embedding.data[source..<(source + d)])
            row += 1
        }
        return x
    }

    /// Final hidden states after the last RMSNorm: [N, D]. `mask` prunes without surgery; `observer` sees activations.
    /// `prefixes[i]`, when given, is the index of an earlier sequence without a prefix that sequence i continues.
    public func hiddenStates(_ batch: [[Int32]], prefixes: [Int?]? = nil, mask: ModelMask? = nil,
                             observer: ForwardObserver? = nil) -> [Float] {
        if let prefixes {
            precondition(prefixes.count == batch.count && prefixes.enumerated().allSatisfy { index, prefix in
                prefix.map { $0 < index && prefixes[$0] == nil } ?? true }, "a prefix must be an earlier sequence without one")
        }
        let longest = batch.indices.map { batch[$0].count + (prefixes?[$0].map { batch[$0].count } ?? 0) }.max() ?? 0
        precondition(longest <= rope.positions, "sequence of \(longest) tokens is longer than the model's \(rope.positions) positions")
        let segments = Self.segments(batch)
        var x = embed(batch)
        for index in config.layers.indices {
            let layerMask = mask.map { $0.layers[index] } ?? .unmasked
            guard let layerMask else { continue }  // a skipped block: the residual stream passes through
            let input = observer == nil ? [] : x
            block(&x, layer: index, segments: segments, prefixes: prefixes, mask: layerMask, observer: observer)
            observer?.block(layer: index, input: input, output: x, segments: segments)
        }
        return RMSNorm.forward(x, rows: segments.last?.upperBound ?? 0, weight: weights.finalNorm, eps: config.rmsNormEps)
    }

    /// One transformer block, in place on the residual stream x: [N, D].
    public func block(_ x: inout [Float], layer index: Int, segments: [Range<Int>], prefixes: [Int?]? = nil,
                      mask: ModelMask.Layer = .unmasked, observer: ForwardObserver? = nil) {
        let layer = weights.layers[index], shape = config.layers[index]
        let rows = x.count / config.hidden
        // Attention: x += o(attention(rope(q(h)), rope(k(h)), v(h))), h = RMSNorm(x)
        let h = RMSNorm.forward(x, rows: rows, weight: layer.attentionNorm, eps: config.rmsNormEps)
        let z = attention(h, rows: rows, layer: layer, shape: shape, segments: segments, prefixes: prefixes,
                          activeHeads: mask.heads)
        observer?.attentionOutput(layer: index, z: z, segments: segments)
        addLinear(z, rows: rows, weight: layer.o, into: &x)
        // MLP: x += down(SiLU(gate(h)) * up(h)), h = RMSNorm(x)
        let h2 = RMSNorm.forward(x, rows: rows, weight: layer.mlpNorm, eps: config.rmsNormEps)
        var a = swiGLU(h2, rows: rows, layer: layer)
        if let neurons = mask.neurons { zeroColumns(&a, rows: rows, keep: neurons) }
        observer?.mlpActivation(layer: index, a: a, segments: segments)
        addLinear(a, rows: rows, weight: layer.down, into: &x)
    }

    /// The attention output before o_proj (the concatenated heads): [N, H*hd]. Heads not in `activeHeads` output zero.
    public func attention(_ h: [Float], rows: Int, layer: LayerWeights, shape: LayerShape, segments: [Range<Int>],
                          prefixes: [Int?]? = nil, activeHeads: [Bool]? = nil) -> [Float] {
        var q = BLAS.linear(h, rows: rows, layer.q)   // [N, H*hd]
        var k = BLAS.linear(h, rows: rows, layer.k)   // [N, KV*hd]
        let v = BLAS.linear(h, rows: rows, layer.v)   // [N, KV*hd]
        return Self.attend(q: &q, k: &k, v: v, shape: shape, headDim: config.headDim, segments: segments,
                           prefixes: prefixes, rope: rope, activeHeads: activeHeads)
    }

    /// Rotates q and k in place (positions restart in every sequence) and returns causal attention of every
    /// sequence: z [N, H*hd] from q [N, H*hd], k and v [N, KV*hd]. Shared by inference and training.
    /// A sequence continuing a prefix (see `hiddenStates`) is rotated from the prefix's length on and attends to the
    /// prefix's keys and values first; heads are then all active (the zero-shot scorer never masks).
    public static func attend(q: inout [Float], k: inout [Float], v: [Float], shape: LayerShape, headDim hd: Int,
                              segments: [Range<Int>], prefixes: [Int?]? = nil, rope: Rope,
                              activeHeads: [Bool]? = nil) -> [Float] {
        precondition(prefixes == nil || activeHeads == nil, "masked heads with shared prefixes")
        var z = [Float](repeating: 0, count: q.count)
        let past = segments.indices.map { prefixes?[$0].map { segments[$0].count } ?? 0 }
        let scratchCount = segments.indices.map { segments[$0].count * (past[$0] + segments[$0].count) }.max() ?? 0
        var scratch = [Float](repeating: 0, count: scratchCount)
        let kvWidth = shape.kvHeads * hd
        // Keys and values of a prefix and its continuation, gathered into consecutive rows.
        var joinedK = [Float](), joinedV = [Float]()
        q.withUnsafeMutableBufferPointer { qp in
            k.withUnsafeMutableBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    z.withUnsafeMutableBufferPointer { zp in
                        scratch.withUnsafeMutableBufferPointer { sp in
                            for (index, segment) in segments.enumerated() where !segment.isEmpty {
                                let qs = qp.baseAddress! + segment.lowerBound * shape.heads * hd
                                let ks = kp.baseAddress! + segment.lowerBound * kvWidth
                                let vs = vp.baseAddress! + segment.lowerBound * kvWidth
                                let zs = zp.baseAddress! + segment.lowerBound * shape.heads * hd
                                rope.apply(qs, tokens: segment.count, heads: shape.heads, startPosition: past[index])
                                rope.apply(ks, tokens: segment.count, heads: shape.kvHeads, startPosition: past[index])
                                guard let prefix = prefixes?[index] else {
                                    Attention.causal(q: qs, k: ks, v: vs, z: zs, tokens: segment.count, heads: shape.heads,
                                                     kvHeads: shape.kvHeads, headDim: hd, activeHeads: activeHeads,
                                                     scratch: sp.baseAddress!)
                                    continue
                                }
                                let before = segments[prefix]
                                joinedK = Array(kp[(before.lowerBound * kvWidth)..<(before.upperBound * kvWidth)])
                                    + Array(kp[(segment.lowerBound * kvWidth)..<(segment.upperBound * kvWidth)])
                                joinedV = Array(vp[(before.lowerBound * kvWidth)..<(before.upperBound * kvWidth)])
                                    + Array(vp[(segment.lowerBound * kvWidth)..<(segment.upperBound * kvWidth)])
                                Attention.afterPast(q: qs, k: joinedK, v: joinedV, z: zs, tokens: segment.count,
                                                    past: before.count, heads: shape.heads, kvHeads: shape.kvHeads,
                                                    headDim: hd, scratch: sp.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        return z
    }

    /// The input of down_proj, SiLU(h W_gate^T) * (h W_up^T): [N, I].
    public func swiGLU(_ h: [Float], rows: Int, layer: LayerWeights) -> [Float] {
        var gate = BLAS.linear(h, rows: rows, layer.gate)
        let up = BLAS.linear(h, rows: rows, layer.up)
        gate.withUnsafeMutableBufferPointer { g in
            up.withUnsafeBufferPointer { u in
                VectorMath.swiGLU(gate: g.baseAddress!, up: u.baseAddress!, count: g.count)
            }
        }
        return gate
    }

    /// Zeroes the columns of x [rows, keep.count] whose flag is false.
    func zeroColumns(_ x: inout [Float], rows: Int, keep: [Bool]) {
        let width = keep.count
        let dropped = keep.indices.filter { !keep[$0] }
        for r in 0..<rows {
            for c in dropped { x[r * width + c] = 0 }
        }
    }

    /// x[N, D] += input[N, in] . W[D, in]^T: a residual add fused into the product (beta = 1).
    public func addLinear(_ input: [Float], rows: Int, weight: Tensor, into x: inout [Float]) {
        input.withUnsafeBufferPointer { ip in
            weight.data.withUnsafeBufferPointer { wp in
                x.withUnsafeMutableBufferPointer { xp in
                    BLAS.gemmTransposedB(m: rows, n: weight.rows, k: weight.cols, a: ip.baseAddress!, lda: weight.cols,
                                         b: wp.baseAddress!, ldb: weight.cols, beta: 1, c: xp.baseAddress!, ldc: weight.rows)
                }
            }
        }
    }

    /// Logits of every position of one sequence: [T, V]. Tests and generation use it; losses use `NextTokenLoss`,
    /// which never holds more than a chunk of logits.
    public func logits(_ tokens: [Int32], mask: ModelMask? = nil) -> Tensor {
        let hidden = hiddenStates([tokens], mask: mask)
        let output = weights.outputMatrix
        return Tensor(shape: [tokens.count, output.rows], data: BLAS.linear(hidden, rows: tokens.count, output))
    }
}
