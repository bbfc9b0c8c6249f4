/// One operation a recorded `BlockPass` ran, with the values it read and made: the backward replays these in
/// reverse, each through its operation's backward, so no block has a hand-written backward of its own.
enum BlockStep {
    /// output = RMSNorm(input) with the weight `role`, over `rows` rows (N, or N * heads for a per-head norm).
    case norm(BlockTensor.Role, input: Int, output: Int, rows: Int)
    /// outputs[i] = input . W_roles[i]^T (+ bias).
    case project([BlockTensor.Role], input: Int, outputs: [Int])
    /// output = attention(rope(q), rope(k), v); the rotated q and k as attention read them.
    case attention(q: Int, k: Int, v: Int, rotatedQ: Int, rotatedK: Int, output: Int)
    /// output = act(input) (a plain MLP).
    case activation(Activation, input: Int, output: Int)
    /// output = act(gate) * up.
    case gated(Activation, gate: Int, up: Int, output: Int)
    /// output = the sum of `values`.
    case add(values: [Int], output: Int)

    /// The values the step made: only later steps read them, so they and their gradients are done with once this
    /// step's backward has run.
    var made: [Int] {
        switch self {
        case let .norm(_, _, output, _): return [output]
        case let .project(_, _, outputs): return outputs
        case let .attention(_, _, _, rotatedQ, rotatedK, output): return [rotatedQ, rotatedK, output]
        case let .activation(_, _, output), let .gated(_, _, _, output), let .add(_, output): return [output]
        }
    }
}

/// Hooks that can run a recorded block backward: the LoRA projections' gradients and attention's.
protocol TrainableHooks: BlockHooks {
    /// dx [N, in] += dy [N, out] . W (and the LoRA branch's share), adding the adapter's gradients of `role`.
    mutating func projectBackward(_ role: BlockTensor.Role, dy: [Float], x: [Float], rows: Int, dx: inout [Float],
                                  gradients: inout [Float])
    /// Gradients of the unrotated q [N, H*hd], k and v [N, KV*hd] from dz [N, H*hd], given the rotated q and k.
    func attendBackward(rotatedQ: [Float], rotatedK: [Float], v: [Float], dz: [Float]) -> (dq: [Float], dk: [Float], dv: [Float])
}

extension BlockPass where Hooks: TrainableHooks {
    /// Given dOutput [N, D], the gradient of the block's output, returns the gradient of its input [N, D] and adds
    /// the LoRA gradients to `gradients` (the adapters' flat layout): the tape's steps backward, last first.
    mutating func backward(_ dOutput: [Float], gradients: inout [Float]) -> [Float] {
        guard let tape else { preconditionFailure("backward of a block run without recording") }
        var grads = [[Float]?](repeating: nil, count: values.count)
        grads[stream] = dOutput
        func accumulate(_ id: Int, _ gradient: [Float]) {
            if grads[id] == nil { grads[id] = gradient } else { Linear.add(gradient, to: &grads[id]!) }
        }
        for step in tape.reversed() {
            // A block's values and gradients go as soon as no step left reads them, not all at the end.
            defer {
                for id in step.made {
                    grads[id] = nil
                    drop(id)
                }
            }
            switch step {
            case let .norm(role, input, output, rows):
                guard let dy = grads[output] else { continue }
                accumulate(input, normKind.backward(dy: dy, x: values[input], rows: rows, weight: layer[role]!, eps: eps))
            case let .project(roles, input, outputs):
                var dx = grads[input] ?? [Float](repeating: 0, count: values[input].count)
                for (role, output) in zip(roles, outputs) {
                    guard let dy = grads[output] else { continue }
                    hooks.projectBackward(role, dy: dy, x: values[input], rows: rows, dx: &dx, gradients: &gradients)
                }
                grads[input] = dx
            case let .attention(q, k, v, rotatedQ, rotatedK, output):
                guard let dz = grads[output] else { continue }
                let (dq, dk, dv) = hooks.attendBackward(rotatedQ: values[rotatedQ], rotatedK: values[rotatedK],
                                                        v: values[v], dz: dz)
                accumulate(q, dq)
                accumulate(k, dk)
                accumulate(v, dv)
            case let .gated(activation, gate, up, output):
                guard let da = grads[output] else { continue }
                var dGate = [Float](repeating: 0, count: da.count), dUp = dGate
                da.withUnsafeBufferPointer { dap in
                    values[gate].withUnsafeBufferPointer { gp in
                        values[up].withUnsafeBufferPointer { upp in
                            dGate.withUnsafeMutableBufferPointer { dgp in
                                dUp.withUnsafeMutableBufferPointer { dup in
                                    activation.gatedBackward(da: dap.baseAddress!, gate: gp.baseAddress!, up: upp.baseAddress!,
                                                             dGate: dgp.baseAddress!, dUp: dup.baseAddress!, count: dap.count)
                                }
                            }
                        }
                    }
                }
                accumulate(gate, dGate)
                accumulate(up, dUp)
            case let .activation(activation, input, output):
                guard let da = grads[output] else { continue }
                var dx = da
                values[input].withUnsafeBufferPointer { xp in
                    dx.withUnsafeMutableBufferPointer { activation.backward(x: xp.baseAddress!, dy: $0.baseAddress!, count: $0.count) }
                }
                accumulate(input, dx)
            case let .add(inputs, output):
                guard let dy = grads[output] else { continue }
                for input in inputs { accumulate(input, dy) }
            }
        }
        return grads[0] ?? [Float](repeating: 0, count: values[0].count)
    }
}
