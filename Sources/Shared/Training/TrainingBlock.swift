/// One block with LoRA-adapted projections, for training: its forward is the family's block (`BlockPass`) with
/// every step recorded, its backward the recorded steps' backwards in reverse (`BlockTape`). Rows of all sequences
/// are stacked, [N, D]; attention runs per sequence.
struct TrainingBlock {
    let model: Transformer
    let index: Int
    let hooks: TrainingHooks

    /// `dropoutStep` seeds the dropout masks of this step; nil turns dropout off (evaluation).
    init(model: Transformer, layer index: Int, adapters: LoRAAdapters, dropoutStep: UInt64?) {
        self.model = model
        self.index = index
        let config = adapters.config, layout = adapters.layout, weights = model.weights.layers[index]
        var linears: [BlockTensor.Role: LoRALinear] = [:]
        for target in model.config.architecture.loraTargets {
            linears[target.role] = LoRALinear(
                weight: weights[target.role]!, entry: layout.entry(layer: index, target: target), scale: config.scale,
                dropout: dropoutStep == nil ? 0 : config.dropout,
                dropoutSeed: LoRALinear.dropoutSeed(step: dropoutStep ?? 0, layer: index, target: target))
        }
        hooks = TrainingHooks(linears: linears, shape: model.config.layers[index], headDim: model.config.headDim,
                              rope: model.ropes[index], window: model.config.window(layer: index))
    }

    /// Runs the block on x [N, D] in place; the returned pass holds what the backward needs when `recording`.
    @discardableResult
    func forward(_ x: inout [Float], segments: [Range<Int>], parameters: [Float],
                 recording: Bool = true) -> BlockPass<TrainingHooks> {
        var hooks = hooks
        hooks.segments = segments
        hooks.parameters = parameters
        return model.runBlock(&x, layer: index, hooks: hooks, recording: recording)
    }
}

/// `TrainingBlock`'s hooks: projections with their LoRA branches (the branch activations kept for the backward),
/// attention over stacked sequences, and the backward of both.
struct TrainingHooks: TrainableHooks {
    let linears: [BlockTensor.Role: LoRALinear]
    let shape: LayerShape
    let headDim: Int
    let rope: Rope
    let window: Attention.Window
    var segments: [Range<Int>] = []
    var parameters: [Float] = []
    var saved: [BlockTensor.Role: LoRALinear.Saved] = [:]

    init(linears: [BlockTensor.Role: LoRALinear], shape: LayerShape, headDim: Int, rope: Rope, window: Attention.Window) {
        self.linears = linears
        self.shape = shape
        self.headDim = headDim
        self.rope = rope
        self.window = window
    }

    mutating func project(_ role: BlockTensor.Role, _ input: [Float], rows: Int) -> [Float] {
        let (y, branch) = linears[role]!.forward(input, rows: rows, parameters: parameters)
        saved[role] = branch
        return y
    }

    /// Unfused: the training forward has always added the projection as a separate sum.
    mutating func addProjection(_ role: BlockTensor.Role, _ input: [Float], rows: Int, into x: inout [Float]) {
        Linear.add(project(role, input, rows: rows), to: &x)
    }

    mutating func attend(q: inout [Float], k: inout [Float], v: [Float], rows: Int) -> [Float] {
        Transformer.attend(q: &q, k: &k, v: v, shape: shape, headDim: headDim, segments: segments, rope: rope, window: window)
    }

    mutating func projectBackward(_ role: BlockTensor.Role, dy: [Float], x: [Float], rows: Int, dx: inout [Float],
                                  gradients: inout [Float]) {
        linears[role]!.backward(dy: dy, x: x, saved: saved[role], rows: rows, parameters: parameters, dx: &dx,
                                gradients: &gradients)
        saved[role] = nil  // the branch's inputs are done with: free them as the block's backward goes on
    }

    func attendBackward(rotatedQ q: [Float], rotatedK k: [Float], v: [Float], dz: [Float]) -> (dq: [Float], dk: [Float], dv: [Float]) {
        let hd = headDim
        var dq = [Float](repeating: 0, count: q.count)
        var dk = [Float](repeating: 0, count: k.count), dv = dk
        var scratch = [Float](repeating: 0, count: Attention.backwardScratchCount(tokens: segments.map(\.count).max() ?? 0))
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
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
                                                kvHeads: shape.kvHeads, headDim: hd, window: window, scratch: sp.baseAddress!)
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
        return (dq, dk, dv)
    }
}

extension BlockPass where Hooks == TrainingHooks {
    /// Bytes the recorded pass holds for its backward: its values and the LoRA branches' saved activations.
    var heldBytes: Int {
        let branches = hooks.saved.values.reduce(0) { $0 + $1.u.count + ($1.droppedInput?.count ?? 0) }
        return MemoryLayout<Float>.stride * (values.reduce(0) { $0 + $1.count } + branches)
    }
}
