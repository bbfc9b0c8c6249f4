/// A family's block: the order in which it runs the operations of `BlockPass` on the residual stream. Written
/// once per family (Families/), run by every forward pass (scoring, zero-shot, decoding, training, pipeline
/// stages); training's backward replays what it ran (`BlockTape`).
protocol BlockComposition: Sendable {
    /// The MLP's activation (also config.json's `hidden_act`).
    static var activation: Activation { get }
    static func run<Hooks: BlockHooks>(_ block: inout BlockPass<Hooks>)
}

/// What a caller of a block decides: how a projection is computed (LoRA adds its branch), how attention finds its
/// keys (sequences and shared prefixes, or the KV cache), and what it does with two values as they are made (a
/// neuron mask, AMP's observer).
protocol BlockHooks {
    /// y [N, out] = input [N, in] . W^T for the block's projection `role`.
    mutating func project(_ role: BlockTensor.Role, _ input: [Float], rows: Int) -> [Float]
    /// x [N, D] += input . W^T: a residual add fused into the product (inference only).
    mutating func addProjection(_ role: BlockTensor.Role, _ input: [Float], rows: Int, into x: inout [Float])
    /// Rotates q [N, H*hd] and k [N, KV*hd] in place and returns causal attention z [N, H*hd].
    mutating func attend(q: inout [Float], k: inout [Float], v: [Float], rows: Int) -> [Float]
    /// Sees (and may change) a value as it is made: the attention or MLP input h [N, D], the attention output
    /// z [N, H*hd] or the MLP activation a [N, I].
    mutating func record(_ stage: BlockPass<Self>.Stage, _ value: inout [Float])
}

extension BlockHooks {
    mutating func record(_ stage: BlockPass<Self>.Stage, _ value: inout [Float]) {}
}

/// One block's forward as operations on values (`Value`: an index into `values`) with the residual stream
/// `stream`, rows of all sequences stacked: [N, D]. When recording (training), every operation leaves its step on
/// `tape` and every value it made stays alive for the backward; otherwise values no later step reads are dropped and
/// residual adds are fused into the products, as inference has always run.
struct BlockPass<Hooks: BlockHooks> {
    typealias Value = Int

    /// The values a hook may see.
    enum Stage {
        case attentionInput   // h, q/k/v_proj input [N, D]
        case mlpInput         // h, gate/up_proj input [N, D]
        case attentionOutput  // z, o_proj input [N, H*hd]
        case mlpActivation    // a, down_proj input [N, I]
    }

    var hooks: Hooks
    let layer: LayerWeights
    let rows: Int
    let eps: Float
    let normKind: NormKind
    let headDim: Int
    private(set) var values: [[Float]]
    /// The residual stream: the block's input at first, its output at the end.
    var stream: Value
    /// The steps run, in order; nil when not recording.
    private(set) var tape: [BlockStep]?

    init(input x: inout [Float], layer: LayerWeights, config: ModelConfig, hooks: Hooks, recording: Bool) {
        self.hooks = hooks
        self.layer = layer
        rows = x.count / config.hidden
        eps = config.rmsNormEps
        normKind = config.architecture.norm
        headDim = config.headDim
        values = [[]]
        swap(&values[0], &x)
        stream = 0
        tape = recording ? [] : nil
    }

    /// The stream at the end: [N, D].
    mutating func output() -> [Float] {
        var x: [Float] = []
        swap(&x, &values[stream])
        return x
    }

    func value(_ id: Value) -> [Float] { values[id] }

    private mutating func make(_ array: [Float]) -> Value {
        values.append(array)
        return values.count - 1
    }

    /// Frees a value the backward has read for the last time (the values a step made, once that step's backward is
    /// done: only later steps read them).
    mutating func drop(_ id: Value) { values[id] = [] }

    /// Frees a value no later step reads, unless the backward will.
    private mutating func release(_ id: Value) {
        if tape == nil { values[id] = [] }
    }

    // MARK: Operations

    /// The family's norm of x [N, D] with the block's `role` weight (and its bias, for LayerNorm): [N, D].
    mutating func norm(_ x: Value, _ role: BlockTensor.Role) -> Value {
        let rows = rows
        let y = make(normKind.forward(values[x], rows: rows, weight: layer[role]!, bias: role.normBias.flatMap { layer[$0] },
                                      eps: eps))
        tape?.append(.norm(role, input: x, output: y, rows: rows))
        return y
    }

    /// The projections `roles` of x, each x W^T plus its bias where the table has one: [N, out] each. One step, so the
    /// backward accumulates their input gradients in this order.
    mutating func project(_ x: Value, _ roles: [BlockTensor.Role]) -> [Value] {
        let outputs = roles.map { role in
            var y = hooks.project(role, values[x], rows: rows)
            if let bias = role.bias.flatMap({ layer[$0] }) { Linear.addBias(bias, to: &y, rows: rows) }
            return make(y)
        }
        tape?.append(.project(roles, input: x, outputs: outputs))
        return outputs
    }

    /// Attention of the normed stream h [N, D]: q, k, v projections (with biases), per-head q/k norms where the
    /// table has them, RoPE and attention through the hooks: z [N, H*hd].
    mutating func attention(_ h: Value) -> Value {
        hooks.record(.attentionInput, &values[h])
        var qkv = project(h, [.q, .k, .v])
        if layer[.qNorm] != nil {
            qkv[0] = headNorm(qkv[0], .qNorm)
            qkv[1] = headNorm(qkv[1], .kNorm)
        }
        var q = values[qkv[0]], k = values[qkv[1]]
        // Rotated in place; the backward reads the rotated copies, so the unrotated ones are only gradient slots.
        values[qkv[0]] = []
        values[qkv[1]] = []
        var z = hooks.attend(q: &q, k: &k, v: values[qkv[2]], rows: rows)
        hooks.record(.attentionOutput, &z)
        release(qkv[2])
        let output = make(z)
        if tape != nil {
            let rotatedQ = make(q), rotatedK = make(k)
            tape!.append(.attention(q: qkv[0], k: qkv[1], v: qkv[2], rotatedQ: rotatedQ, rotatedK: rotatedK, output: output))
        }
        return output
    }

    /// RMSNorm of every head of x [N, heads*hd] with the [hd] weight `role`.
    private mutating func headNorm(_ x: Value, _ role: BlockTensor.Role) -> Value {
        let headRows = values[x].count / headDim
        let y = make(normKind.forward(values[x], rows: headRows, weight: layer[role]!, bias: nil, eps: eps))
        tape?.append(.norm(role, input: x, output: y, rows: headRows))
        release(x)
        return y
    }

    /// The gated MLP activation of the normed stream h [N, D]: act(h Wgate^T) * (h Wup^T), [N, I].
    mutating func gatedActivation(_ h: Value, _ activation: Activation) -> Value {
        hooks.record(.mlpInput, &values[h])
        let gateAndUp = project(h, [.gate, .up])
        var a = values[gateAndUp[0]]
        release(gateAndUp[0])
        values[gateAndUp[1]].withUnsafeBufferPointer { up in
            a.withUnsafeMutableBufferPointer { activation.gatedForward(gate: $0.baseAddress!, up: up.baseAddress!, count: $0.count) }
        }
        release(gateAndUp[1])
        hooks.record(.mlpActivation, &a)
        let output = make(a)
        tape?.append(.gated(activation, gate: gateAndUp[0], up: gateAndUp[1], output: output))
        return output
    }

    /// The plain MLP activation of x [N, I] (Phi: fc1's output): act(x), [N, I].
    mutating func activation(_ x: Value, _ activation: Activation) -> Value {
        var a = values[x]
        a.withUnsafeMutableBufferPointer { activation.forward($0.baseAddress!, count: $0.count) }
        release(x)
        hooks.record(.mlpActivation, &a)
        let output = make(a)
        tape?.append(.activation(activation, input: x, output: output))
        return output
    }

    /// The stream += x W^T (+ bias) for the block's projection `role` (o, down): fused into the product in inference.
    mutating func addProjection(_ x: Value, _ role: BlockTensor.Role) {
        guard tape != nil else {
            let input = values[x]
            release(x)
            hooks.addProjection(role, input, rows: rows, into: &values[stream])
            if let bias = role.bias.flatMap({ layer[$0] }) { Linear.addBias(bias, to: &values[stream], rows: rows) }
            return
        }
        addToStream(project(x, [role])[0])
    }

    /// The stream += y [N, D] (a residual branch).
    mutating func addToStream(_ y: Value) {
        guard tape != nil else {
            Linear.add(values[y], to: &values[stream])
            release(y)
            return
        }
        let sum = make(Linear.sum(values[stream], values[y]))
        tape!.append(.add(values: [stream, y], output: sum))
        stream = sum
    }
}

/// Hooks whose projections are the block's own weights, unadapted: one BLAS product per projection, the residual
/// add fused into the product (beta = 1). Every inference path uses them.
protocol FrozenProjections {
    var layer: LayerWeights { get }
}

extension BlockHooks where Self: FrozenProjections {
    mutating func project(_ role: BlockTensor.Role, _ input: [Float], rows: Int) -> [Float] {
        BLAS.linear(input, rows: rows, layer[role]!)
    }

    mutating func addProjection(_ role: BlockTensor.Role, _ input: [Float], rows: Int, into x: inout [Float]) {
        BLAS.addLinear(input, rows: rows, weight: layer[role]!, into: &x)
    }
}
