/// The model pass in fp32 over a batch of token sequences (possibly of different lengths): embed, blocks (each its
/// family's `BlockComposition`), final norm, head. Written once here; scoring, zero-shot, decoding (`Generator`),
/// training (`LoRATrainer`) and pipeline stages call its parts.
/// Rows of all sequences are stacked, [N = sum of lengths, D], so every linear layer is one large product;
/// attention runs per sequence. Positions restart at 0 in every sequence, except in a sequence that continues a
/// prefix (`prefixes`): it starts where its prefix ends and attends to the prefix's rows, which are computed once for
/// every sequence that continues them (the zero-shot scorer's shared contexts).
public struct Transformer: Sendable {
    public let weights: ModelWeights
    /// The RoPE of every layer (one table per base).
    public let ropes: [Rope]

    public init(weights: ModelWeights) {
        self.weights = weights
        ropes = Rope.perLayer(weights.config, positions: weights.config.maxPositions)
    }

    /// The positions the model takes.
    public var positions: Int { config.maxPositions }

    public var config: ModelConfig { weights.config }

    /// Row ranges of each sequence in the stacked batch.
    public static func segments(_ batch: [[Int32]]) -> [Range<Int>] {
        var start = 0
        return batch.map { sequence in
            defer { start += sequence.count }
            return start..<(start + sequence.count)
        }
    }

    /// Embedding rows of the tokens, times the family's embedding scale: [N, D].
    public func embed(_ batch: [[Int32]]) -> [Float] {
        let d = config.hidden
        var x = [Float](repeating: 0, count: batch.reduce(0) { $0 + $1.count } * d)
        x.withUnsafeMutableBufferPointer { xp in
            for (row, token) in batch.joined().enumerated() {
                precondition(token >= 0 && Int(token) < config.vocabSize, "token id \(token) outside the vocabulary")
                weights.embedding.copyRows(Int(token)..<(Int(token) + 1), into: xp.baseAddress! + row * d)
            }
        }
        if let scale = config.architecture.embeddingScale(config) {
            for i in x.indices { x[i] *= scale }
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
        precondition(longest <= positions, "sequence of \(longest) tokens is longer than the model's \(positions) positions")
        let segments = Self.segments(batch)
        var x = embed(batch)
        runBlocks(config.layers.indices, &x, segments: segments, prefixes: prefixes, mask: mask, observer: observer)
        return finalNorm(x)
    }

    /// Blocks `blocks` in place on the residual stream x [N, D] of sequences at `segments` (continuing `prefixes`,
    /// masked by `mask`, seen by `observer`, as in `hiddenStates`): all of `hiddenStates` but the embedding and the
    /// final norm, so a pipeline stage running its share of the blocks does exactly the same operations.
    public func runBlocks(_ blocks: Range<Int>, _ x: inout [Float], segments: [Range<Int>], prefixes: [Int?]? = nil,
                          mask: ModelMask? = nil, observer: ForwardObserver? = nil) {
        for index in blocks {
            let layerMask = mask.map { $0.layers[index] } ?? .unmasked
            guard let layerMask else { continue }  // a skipped block: the residual stream passes through
            let input = observer == nil ? [] : x
            block(&x, layer: index, segments: segments, prefixes: prefixes, mask: layerMask, observer: observer)
            observer?.block(layer: index, input: input, output: x, segments: segments)
        }
    }

    /// The final norm (the family's) of the residual stream x [N, D]: [N, D].
    public func finalNorm(_ x: [Float]) -> [Float] {
        config.architecture.norm.forward(x, rows: x.count / config.hidden, weight: weights.finalNorm,
                                         bias: weights.finalNormBias, eps: config.rmsNormEps)
    }

    /// The gradient of the final norm's input from dy [N, D] of its output (the weight frozen).
    func finalNormBackward(_ dy: [Float], input x: [Float]) -> [Float] {
        config.architecture.norm.backward(dy: dy, x: x, rows: x.count / config.hidden, weight: weights.finalNorm,
                                          eps: config.rmsNormEps)
    }

    /// Logits [N, V] of final hidden states [N, D].
    public func head(_ hidden: [Float]) -> [Float] {
        weights.head.logits(hidden, rows: hidden.count / config.hidden)
    }

    /// Runs block `index` on x [N, D] in place with `hooks`, as its family composes it, and returns the pass: its
    /// hooks as they ended and, when recording, the steps a backward replays (`BlockTape`).
    @discardableResult
    func runBlock<Hooks: BlockHooks>(_ x: inout [Float], layer index: Int, hooks: Hooks,
                                     recording: Bool = false) -> BlockPass<Hooks> {
        var pass = BlockPass(input: &x, layer: weights.layers[index], config: config, hooks: hooks,
                             recording: recording)
        config.architecture.block.run(&pass)
        x = pass.output()
        return pass
    }

    /// One transformer block, in place on the residual stream x: [N, D]. Heads and neurons the mask drops output
    /// zero; the observer sees the attention output and the MLP activation.
    public func block(_ x: inout [Float], layer index: Int, segments: [Range<Int>], prefixes: [Int?]? = nil,
                      mask: ModelMask.Layer = .unmasked, observer: ForwardObserver? = nil) {
        let hooks = ScoringHooks(layer: weights.layers[index], index: index, shape: config.layers[index],
                                 headDim: config.headDim, rope: ropes[index], window: config.window(layer: index),
                                 segments: segments, prefixes: prefixes, mask: mask, observer: observer)
        runBlock(&x, layer: index, hooks: hooks)
    }

    /// Rotates q and k in place (positions restart in every sequence) and returns causal attention of every
    /// sequence: z [N, H*hd] from q [N, H*hd], k and v [N, KV*hd]. Shared by inference and training.
    /// A sequence continuing a prefix (see `hiddenStates`) is rotated from the prefix's length on and attends to the
    /// prefix's keys and values first; heads are then all active (the zero-shot scorer never masks).
    public static func attend(q: inout [Float], k: inout [Float], v: [Float], shape: LayerShape, headDim hd: Int,
                              segments: [Range<Int>], prefixes: [Int?]? = nil, rope: Rope,
                              window: Attention.Window? = nil, activeHeads: [Bool]? = nil) -> [Float] {
        precondition(prefixes == nil || activeHeads == nil, "masked heads with shared prefixes")
        var z = [Float](repeating: 0, count: q.count)
        let past = segments.indices.map { prefixes?[$0].map { segments[$0].count } ?? 0 }
        let scratchCount = segments.indices.map { Attention.scratchCount(tokens: segments[$0].count, past: past[$0]) }.max() ?? 0
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
                                    Attention.attend(q: qs, k: ks, v: vs, z: zs, tokens: segment.count, heads: shape.heads,
                                                     kvHeads: shape.kvHeads, headDim: hd, window: window,
                                                     activeHeads: activeHeads, scratch: sp.baseAddress!)
                                    continue
                                }
                                let before = segments[prefix]
                                joinedK = Array(kp[(before.lowerBound * kvWidth)..<(before.upperBound * kvWidth)])
                                    + Array(kp[(segment.lowerBound * kvWidth)..<(segment.upperBound * kvWidth)])
                                joinedV = Array(vp[(before.lowerBound * kvWidth)..<(before.upperBound * kvWidth)])
                                    + Array(vp[(segment.lowerBound * kvWidth)..<(segment.upperBound * kvWidth)])
                                Attention.attend(q: qs, k: joinedK, v: joinedV, z: zs, tokens: segment.count,
                                                 past: before.count, heads: shape.heads, kvHeads: shape.kvHeads,
                                                 headDim: hd, window: window, scratch: sp.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        return z
    }

    /// Logits of every position of one sequence: [T, V]. Tests and generation use it; losses use `NextTokenLoss`,
    /// which never holds more than a chunk of logits.
    public func logits(_ tokens: [Int32], mask: ModelMask? = nil) -> Tensor {
        Tensor(shape: [tokens.count, config.vocabSize], data: head(hiddenStates([tokens], mask: mask)))
    }
}

/// `Transformer.block`'s hooks: attention over stacked sequences (and shared prefixes), masks applied, the
/// observer told.
private struct ScoringHooks: BlockHooks, FrozenProjections {
    let layer: LayerWeights
    let index: Int
    let shape: LayerShape
    let headDim: Int
    let rope: Rope
    let window: Attention.Window
    let segments: [Range<Int>]
    let prefixes: [Int?]?
    let mask: ModelMask.Layer
    let observer: ForwardObserver?

    mutating func attend(q: inout [Float], k: inout [Float], v: [Float], rows: Int) -> [Float] {
        Transformer.attend(q: &q, k: &k, v: v, shape: shape, headDim: headDim, segments: segments, prefixes: prefixes,
                           rope: rope, window: window, activeHeads: mask.heads)
    }

    mutating func record(_ stage: BlockPass<Self>.Stage, _ value: inout [Float]) {
        switch stage {
        case .attentionInput:
            observer?.attentionInput(layer: index, h: value, segments: segments)
        case .mlpInput:
            observer?.mlpInput(layer: index, h: value, segments: segments)
        case .attentionOutput:
            observer?.attentionOutput(layer: index, z: value, segments: segments)
        case .mlpActivation:
            if let neurons = mask.neurons { Self.zeroColumns(&value, keep: neurons) }
            observer?.mlpActivation(layer: index, a: value, segments: segments)
        }
    }

    /// Zeroes the columns of x [rows, keep.count] whose flag is false.
    static func zeroColumns(_ x: inout [Float], keep: [Bool]) {
        let width = keep.count
        let dropped = keep.indices.filter { !keep[$0] }
        for r in 0..<(x.count / width) {
            for c in dropped { x[r * width + c] = 0 }
        }
    }
}
