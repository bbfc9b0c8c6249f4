/// One transformer block with LoRA-adapted linear layers, for training: its forward returns every activation its
/// backward needs, and its backward turns the gradient of the block output into the gradient of its input while
/// accumulating the LoRA gradients. Rows of all sequences are stacked, [N, D]; attention runs per sequence.
struct TrainingBlock {
    let layer: LayerWeights
    let shape: LayerShape
    let headDim: Int
    let eps: Float
    let rope: Rope
    let q, k, v, o, gate, up, down: LoRALinear

    /// `dropoutStep` seeds the dropout masks of this step; nil turns dropout off (evaluation).
    init(model: ModelWeights, layer index: Int, adapters: LoRAAdapters, rope: Rope, dropoutStep: UInt64?) {
        layer = model.layers[index]
        shape = model.config.layers[index]
        headDim = model.config.headDim
        eps = model.config.rmsNormEps
        self.rope = rope
        let config = adapters.config, layout = adapters.layout
        func adapted(_ target: LoRATarget) -> LoRALinear {
            LoRALinear(weight: model.layers[index][target.role]!, entry: layout.entry(layer: index, target: target),
                       scale: config.scale, dropout: dropoutStep == nil ? 0 : config.dropout,
                       dropoutSeed: LoRALinear.dropoutSeed(step: dropoutStep ?? 0, layer: index, target: target))
        }
        (q, k, v, o) = (adapted(.q), adapted(.k), adapted(.v), adapted(.o))
        (gate, up, down) = (adapted(.gate), adapted(.up), adapted(.down))
    }

    /// The adapted layer of a target.
    func linear(_ target: LoRATarget) -> LoRALinear {
        switch target {
        case .q: q
        case .k: k
        case .v: v
        case .o: o
        case .gate: gate
        case .up: up
        case .down: down
        }
    }

    /// Activations of one block. Shapes: D hidden, Q = H*hd, K = KV*hd, I intermediate.
    struct Activations {
        var input: [Float]    // x [N, D]
        var h: [Float]        // RMSNorm(x) [N, D]
        var q: [Float]        // rotated [N, Q]
        var k: [Float]        // rotated [N, K]
        var v: [Float]        // [N, K]
        var z: [Float]        // attention output, o_proj input [N, Q]
        var middle: [Float]   // x + o(z) [N, D]
        var h2: [Float]       // RMSNorm(middle) [N, D]
        var gate: [Float]     // pre-activation [N, I]
        var up: [Float]       // [N, I]
        var a: [Float]        // SiLU(gate) * up, down_proj input [N, I]
        var output: [Float]   // middle + down(a) [N, D]
        var saved: [LoRATarget: LoRALinear.Saved]
    }

    /// The block's forward (`BlockForward`, biases frozen and carried through) with every activation kept.
    func forward(_ x: [Float], segments: [Range<Int>], parameters: [Float]) -> Activations {
        var hooks = TrainingHooks(block: self, segments: segments, parameters: parameters)
        var output = x
        BlockForward.run(&output, layer: layer, eps: eps, hooks: &hooks)
        let kept = hooks.kept
        func value(_ stage: BlockForward.Stage) -> [Float] { kept[stage]! }
        return Activations(input: x, h: value(.attentionInput), q: value(.query), k: value(.key), v: value(.value),
                           z: value(.attentionOutput), middle: value(.middle), h2: value(.mlpInput), gate: value(.gate),
                           up: value(.up), a: value(.mlpActivation), output: output, saved: hooks.saved)
    }

    /// Given dOut [N, D] (gradient of the block output), returns dInput [N, D] and adds the LoRA gradients of
    /// this block to `gradients` (the flat layout of the parameters).
    func backward(_ dOut: [Float], _ act: Activations, segments: [Range<Int>], parameters: [Float],
                  gradients: inout [Float]) -> [Float] {
        let rows = dOut.count / layer.attentionNorm.count, hd = headDim
        // MLP: output = middle + down(SiLU(gate(h2)) * up(h2)), h2 = RMSNorm(middle)
        var da = [Float](repeating: 0, count: act.a.count)
        down.backward(dy: dOut, x: act.a, saved: act.saved[.down], rows: rows, parameters: parameters, dx: &da, gradients: &gradients)
        var dGate = [Float](repeating: 0, count: act.a.count), dUp = dGate
        da.withUnsafeBufferPointer { dap in
            act.gate.withUnsafeBufferPointer { gp in
                act.up.withUnsafeBufferPointer { up in
                    dGate.withUnsafeMutableBufferPointer { dgp in
                        dUp.withUnsafeMutableBufferPointer { dup in
                            VectorMath.swiGLUBackward(da: dap.baseAddress!, gate: gp.baseAddress!, up: up.baseAddress!,
                                                      dGate: dgp.baseAddress!, dUp: dup.baseAddress!, count: dap.count)
                        }
                    }
                }
            }
        }
        var dh2 = [Float](repeating: 0, count: dOut.count)
        gate.backward(dy: dGate, x: act.h2, saved: act.saved[.gate], rows: rows, parameters: parameters, dx: &dh2, gradients: &gradients)
        up.backward(dy: dUp, x: act.h2, saved: act.saved[.up], rows: rows, parameters: parameters, dx: &dh2, gradients: &gradients)
        let dMiddle = Self.sum(dOut, RMSNorm.backward(dy: dh2, x: act.middle, rows: rows, weight: layer.mlpNorm, eps: eps))

        // Attention: middle = input + o(attention(rope(q(h)), rope(k(h)), v(h))), h = RMSNorm(input)
        var dz = [Float](repeating: 0, count: act.z.count)
        o.backward(dy: dMiddle, x: act.z, saved: act.saved[.o], rows: rows, parameters: parameters, dx: &dz, gradients: &gradients)
        var dq = [Float](repeating: 0, count: act.q.count)
        var dk = [Float](repeating: 0, count: act.k.count), dv = dk
        var scratch = [Float](repeating: 0, count: Attention.backwardScratchCount(tokens: Self.longest(segments)))
        act.q.withUnsafeBufferPointer { qp in
            act.k.withUnsafeBufferPointer { kp in
                act.v.withUnsafeBufferPointer { vp in
                    dz.withUnsafeBufferPointer { dzp in
                        dq.withUnsafeMutableBufferPointer { dqp in
                            dk.withUnsafeMutableBufferPointer { dkp in
                                dv.withUnsafeMutableBufferPointer { dvp in
                                    scratch.withUnsafeMutableBufferPointer { sp in
                                        for segment in segments where !segment.isEmpty {
                                            let qOffset = segment.lowerBound * shape.heads * hd
                                            let kvOffset = segment.lowerBound * shape.kvHeads * hd
                                            Attention.attendBackward(
                                                q: qp.baseAddress! + qOffset, k: kp.baseAddress! + kvOffset,
                                                v: vp.baseAddress! + kvOffset, dz: dzp.baseAddress! + qOffset,
                                                dq: dqp.baseAddress! + qOffset, dk: dkp.baseAddress! + kvOffset,
                                                dv: dvp.baseAddress! + kvOffset, tokens: segment.count, heads: shape.heads,
                                                kvHeads: shape.kvHeads, headDim: hd, scratch: sp.baseAddress!)
                                            rope.applyInverse(dqp.baseAddress! + qOffset, tokens: segment.count, heads: shape.heads)
                                            rope.applyInverse(dkp.baseAddress! + kvOffset, tokens: segment.count, heads: shape.kvHeads)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var dh = [Float](repeating: 0, count: dOut.count)
        q.backward(dy: dq, x: act.h, saved: act.saved[.q], rows: rows, parameters: parameters, dx: &dh, gradients: &gradients)
        k.backward(dy: dk, x: act.h, saved: act.saved[.k], rows: rows, parameters: parameters, dx: &dh, gradients: &gradients)
        v.backward(dy: dv, x: act.h, saved: act.saved[.v], rows: rows, parameters: parameters, dx: &dh, gradients: &gradients)
        return Self.sum(dMiddle, RMSNorm.backward(dy: dh, x: act.input, rows: rows, weight: layer.attentionNorm, eps: eps))
    }

    static func longest(_ segments: [Range<Int>]) -> Int { segments.map(\.count).max() ?? 0 }

    /// a + b element-wise (residual adds, and the residual branch of their gradients).
    static func sum(_ a: [Float], _ b: [Float]) -> [Float] {
        var result = a
        for i in result.indices { result[i] += b[i] }
        return result
    }
}

/// `TrainingBlock.forward`'s hooks: projections with their LoRA branches, attention over stacked sequences, and
/// every intermediate value kept for the backward pass.
private struct TrainingHooks: BlockHooks {
    let block: TrainingBlock
    let segments: [Range<Int>]
    let parameters: [Float]
    var kept: [BlockForward.Stage: [Float]] = [:]
    var saved: [LoRATarget: LoRALinear.Saved] = [:]

    init(block: TrainingBlock, segments: [Range<Int>], parameters: [Float]) {
        self.block = block
        self.segments = segments
        self.parameters = parameters
    }

    mutating func project(_ role: BlockTensor.Role, _ input: [Float], rows: Int) -> [Float] {
        let target = LoRATarget(role: role)!
        let (y, branch) = block.linear(target).forward(input, rows: rows, parameters: parameters)
        saved[target] = branch
        return y
    }

    mutating func addProjection(_ role: BlockTensor.Role, _ input: [Float], rows: Int, into x: inout [Float]) {
        x = TrainingBlock.sum(x, project(role, input, rows: rows))
    }

    mutating func attend(q: inout [Float], k: inout [Float], v: [Float], rows: Int) -> [Float] {
        Transformer.attend(q: &q, k: &k, v: v, shape: block.shape, headDim: block.headDim, segments: segments, rope: block.rope)
    }

    mutating func record(_ stage: BlockForward.Stage, _ value: inout [Float]) {
        kept[stage] = value
    }
}
