import XCTest
@testable import Shared

/// Every hand-written backward against central differences of a float64 version of its operation. Each scalar
/// checked is L = sum(dy * f(x)) for a fixed random dy, so dL/dx is exactly what the backward returns.
final class OperationBackwardTests: XCTestCase {
    func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    func assertGradient(_ analytic: [Float], _ numeric: [Double], _ what: String, tolerance: Double = 1e-4,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(analytic.count, numeric.count, what, file: file, line: line)
        let error = relativeError(analytic, numeric)
        XCTAssertLessThan(error, tolerance, "\(what): relative error \(error)", file: file, line: line)
        XCTAssertGreaterThan(numeric.map(abs).max() ?? 0, 1e-3, "\(what): a vanishing gradient checks nothing", file: file, line: line)
    }

    func testRMSNormBackward() {
        let rows = 3, d = 16, eps: Float = 1e-5
        let x = randomFloats(rows * d, seed: 1), dy = randomFloats(rows * d, seed: 2)
        let weight = Tensor(shape: [d], data: randomFloats(d, scale: 0.3, seed: 3).map { $0 + 1 })
        let analytic = RMSNorm.backward(dy: dy, x: x, rows: rows, weight: weight, eps: eps)
        let numeric = numericGradient(x.map(Double.init)) { xs in
            (0..<rows).reduce(0.0) { total, r in
                let y = ReferenceOps.rmsnorm(Array(xs[r * d..<(r + 1) * d]), weight.data.map(Double.init), eps: Double(eps))
                return total + dot(y, dy[r * d..<(r + 1) * d].map(Double.init))
            }
        }
        assertGradient(analytic, numeric, "RMSNorm dx")
    }

    func testRopeBackwardIsTheInverseRotation() {
        let config = TinyConfigs.mha, heads = 2, hd = config.headDim, tokens = 5, start = 3
        let rope = Rope(config: config, positions: 16)
        let x = randomFloats(tokens * heads * hd, seed: 4), dy = randomFloats(x.count, seed: 5)
        var analytic = dy
        analytic.withUnsafeMutableBufferPointer { rope.applyInverse($0.baseAddress!, tokens: tokens, heads: heads, startPosition: start) }
        let width = heads * hd
        let numeric = numericGradient(x.map(Double.init)) { xs in
            (0..<tokens).reduce(0.0) { total, t in
                let y = ReferenceOps.rope(Array(xs[t * width..<(t + 1) * width]), heads: heads, headDim: hd,
                                          position: start + t, theta: Double(config.ropeTheta))
                return total + dot(y, dy[t * width..<(t + 1) * width].map(Double.init))
            }
        }
        assertGradient(analytic, numeric, "RoPE dx")
    }

    func testSwiGLUBackward() {
        let count = 37
        let gate = randomFloats(count, scale: 4, seed: 6), up = randomFloats(count, seed: 7), da = randomFloats(count, seed: 8)
        var dGate = [Float](repeating: 0, count: count), dUp = dGate
        Activation.silu.gatedBackward(da: da, gate: gate, up: up, dGate: &dGate, dUp: &dUp, count: count)
        let g = gate.map(Double.init), u = up.map(Double.init), dad = da.map(Double.init)
        assertGradient(dGate, numericGradient(g) { gs in dot(zip(gs, u).map { ReferenceOps.silu($0) * $1 }, dad) }, "SwiGLU dgate")
        assertGradient(dUp, numericGradient(u) { us in dot(zip(g, us).map { ReferenceOps.silu($0) * $1 }, dad) }, "SwiGLU dup")
    }

    /// The GELUs (tanh: Gemma, Phi; erf: LLaVA's projector; quick: CLIP), gated and plain: forward against the float64
    /// formula, backward against central differences.
    func testGeluActivationsForwardAndBackward() {
        let count = 41
        let gate = randomFloats(count, scale: 4, seed: 16), up = randomFloats(count, seed: 17), da = randomFloats(count, seed: 18)
        let g = gate.map(Double.init), u = up.map(Double.init), dad = da.map(Double.init)
        for activation in [Activation.geluTanh, .geluErf, .quickGelu] {
            let name = activation.rawValue
            func act(_ x: Double) -> Double { ReferenceOps.activation(activation, x) }
            var dGate = [Float](repeating: 0, count: count), dUp = dGate
            activation.gatedBackward(da: da, gate: gate, up: up, dGate: &dGate, dUp: &dUp, count: count)
            assertGradient(dGate, numericGradient(g) { gs in dot(zip(gs, u).map { act($0) * $1 }, dad) }, name + " gated dgate")
            assertGradient(dUp, numericGradient(u) { us in dot(zip(g, us).map { act($0) * $1 }, dad) }, name + " gated dup")
            // The forwards in place: act(g) * u and act(g), as the float64 formula gives them.
            var product = gate
            product.withUnsafeMutableBufferPointer { activation.gatedForward(gate: $0.baseAddress!, up: up, count: count) }
            XCTAssertLessThan(relativeError(product, zip(g, u).map { act($0) * $1 }), 1e-6, name)
            var plain = gate
            plain.withUnsafeMutableBufferPointer { activation.forward($0.baseAddress!, count: count) }
            XCTAssertLessThan(relativeError(plain, g.map(act)), 1e-6, name)
            var dx = da
            dx.withUnsafeMutableBufferPointer { activation.backward(x: gate, dy: $0.baseAddress!, count: count) }
            assertGradient(dx, numericGradient(g) { gs in dot(gs.map(act), dad) }, name + " dx")
        }
        // The three differ where it matters: a formula swapped for another would not pass the checks above.
        XCTAssertGreaterThan(abs(ReferenceOps.activation(.geluErf, -1.5) - ReferenceOps.activation(.quickGelu, -1.5)), 5e-3)
        XCTAssertGreaterThan(abs(ReferenceOps.activation(.geluErf, -2.5) - ReferenceOps.activation(.geluTanh, -2.5)), 1e-4)
    }

    /// Gemma's norm multiplies by (1 + w): forward and backward against the float64 formula.
    func testRMSNormWithUnitOffset() {
        let rows = 2, d = 12, eps: Float = 1e-6
        let x = randomFloats(rows * d, scale: 2, seed: 19), dy = randomFloats(rows * d, seed: 20)
        let weight = Tensor(shape: [d], data: randomFloats(d, scale: 0.5, seed: 21))
        func reference(_ xs: [Double]) -> [Double] {
            (0..<rows).flatMap { r in
                ReferenceOps.rmsnorm(Array(xs[r * d..<(r + 1) * d]), weight.data.map(Double.init), eps: Double(eps), offset: 1)
            }
        }
        let y = RMSNorm.forward(x, rows: rows, weight: weight, eps: eps, offset: 1)
        XCTAssertLessThan(relativeError(y, reference(x.map(Double.init))), 1e-6)
        let analytic = RMSNorm.backward(dy: dy, x: x, rows: rows, weight: weight, eps: eps, offset: 1)
        assertGradient(analytic, numericGradient(x.map(Double.init)) { dot(reference($0), dy.map(Double.init)) }, "RMSNorm(1+w) dx")
    }

    /// Phi's LayerNorm with bias: forward against the float64 formula, dx against central differences.
    func testLayerNormForwardAndBackward() {
        let rows = 3, d = 10, eps: Float = 1e-5
        let x = randomFloats(rows * d, scale: 2, seed: 26).map { $0 + 0.7 }, dy = randomFloats(rows * d, seed: 27)
        let weight = Tensor(shape: [d], data: randomFloats(d, scale: 0.5, seed: 28).map { $0 + 1 })
        let bias = Tensor(shape: [d], data: randomFloats(d, scale: 0.5, seed: 29))
        func reference(_ xs: [Double]) -> [Double] {
            (0..<rows).flatMap { r in
                ReferenceOps.layernorm(Array(xs[r * d..<(r + 1) * d]), weight.data.map(Double.init), bias.data.map(Double.init),
                                       eps: Double(eps))
            }
        }
        let y = LayerNorm.forward(x, rows: rows, weight: weight, bias: bias, eps: eps)
        XCTAssertLessThan(relativeError(y, reference(x.map(Double.init))), 1e-6)
        let analytic = LayerNorm.backward(dy: dy, x: x, rows: rows, weight: weight, eps: eps)
        assertGradient(analytic, numericGradient(x.map(Double.init)) { dot(reference($0), dy.map(Double.init)) }, "LayerNorm dx")
    }

    /// Phi's partial rotary: 6 of 8 elements of each head rotate (pairs i, i + 3), the last 2 pass; the backward is the
    /// inverse rotation.
    func testPartialRopeAndItsBackward() {
        var config = TinyConfigs.mha
        config.rotaryDims = 6
        let rope = Rope(config: config, positions: 16), heads = 2, hd = config.headDim, tokens = 4, start = 5
        let x = randomFloats(tokens * heads * hd, seed: 30), dy = randomFloats(x.count, seed: 31)
        let width = heads * hd
        func reference(_ xs: [Double]) -> [Double] {
            (0..<tokens).flatMap { t in
                ReferenceOps.rope(Array(xs[t * width..<(t + 1) * width]), heads: heads, headDim: hd, position: start + t,
                                  theta: Double(config.ropeTheta), rotary: 6)
            }
        }
        var y = x
        y.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, tokens: tokens, heads: heads, startPosition: start) }
        XCTAssertLessThan(relativeError(y, reference(x.map(Double.init))), 1e-6)
        XCTAssertEqual(y[6], x[6])
        XCTAssertEqual(y[7], x[7])
        var analytic = dy
        analytic.withUnsafeMutableBufferPointer { rope.applyInverse($0.baseAddress!, tokens: tokens, heads: heads, startPosition: start) }
        assertGradient(analytic, numericGradient(x.map(Double.init)) { dot(reference($0), dy.map(Double.init)) }, "partial RoPE dx")
    }

    /// A sliding window of 2 and a scale of its own (Gemma-3), across query blocks of 2.
    func testAttentionBackwardWithWindowAndScale() {
        let tokens = 5, hd = 4, heads = 2, kvHeads = 1, qw = heads * hd, kw = kvHeads * hd
        let window = Attention.Window(scale: 0.3, size: 2)
        let q = randomFloats(tokens * qw, seed: 22), k = randomFloats(tokens * kw, seed: 23)
        let v = randomFloats(tokens * kw, seed: 24), dz = randomFloats(tokens * qw, seed: 25)
        var dq = [Float](repeating: .nan, count: q.count), dk = [Float](repeating: 9, count: k.count), dv = dk
        var scratch = [Float](repeating: .nan, count: Attention.backwardScratchCount(tokens: tokens, queryBlock: 2))
        Attention.attendBackward(q: q, k: k, v: v, dz: dz, dq: &dq, dk: &dk, dv: &dv, tokens: tokens, heads: heads,
                                 kvHeads: kvHeads, headDim: hd, window: window, scratch: &scratch, queryBlock: 2)
        func rows(_ x: [Double], _ width: Int) -> [[Double]] { (0..<tokens).map { Array(x[$0 * width..<($0 + 1) * width]) } }
        let qd = q.map(Double.init), kd = k.map(Double.init), vd = v.map(Double.init), dzd = dz.map(Double.init)
        func attention(_ q: [Double], _ k: [Double], _ v: [Double]) -> [Double] {
            Array(ReferenceOps.attention(q: rows(q, qw), k: rows(k, kw), v: rows(v, kw), heads: heads, kvHeads: kvHeads,
                                         headDim: hd, scale: 0.3, window: 2).joined())
        }
        var z = [Float](repeating: .nan, count: q.count)
        var forwardScratch = [Float](repeating: .nan, count: Attention.scratchCount(tokens: tokens, queryBlock: 2))
        Attention.attend(q: q, k: k, v: v, z: &z, tokens: tokens, heads: heads, kvHeads: kvHeads, headDim: hd,
                         window: window, scratch: &forwardScratch, queryBlock: 2)
        XCTAssertLessThan(relativeError(z, attention(qd, kd, vd)), 1e-6, "windowed forward")
        assertGradient(dq, numericGradient(qd) { dot(attention($0, kd, vd), dzd) }, "windowed attention dq")
        assertGradient(dk, numericGradient(kd) { dot(attention(qd, $0, vd), dzd) }, "windowed attention dk")
        assertGradient(dv, numericGradient(vd) { dot(attention(qd, kd, $0), dzd) }, "windowed attention dv")
    }

    /// Query blocks of 2 over 5 tokens (and 1, and one block of all) cross every block boundary the backward has.
    func testAttentionBackwardMHAAndGQA() {
        for (heads, kvHeads, queryBlock) in [(2, 2, 2), (4, 2, 1), (3, 1, Attention.queryBlock)] {
            let tokens = 5, hd = 4, qw = heads * hd, kw = kvHeads * hd
            let q = randomFloats(tokens * qw, seed: 10), k = randomFloats(tokens * kw, seed: 11)
            let v = randomFloats(tokens * kw, seed: 12), dz = randomFloats(tokens * qw, seed: 13)
            var dq = [Float](repeating: .nan, count: q.count), dk = [Float](repeating: 9, count: k.count), dv = dk
            var scratch = [Float](repeating: .nan, count: Attention.backwardScratchCount(tokens: tokens, queryBlock: queryBlock))
            Attention.attendBackward(q: q, k: k, v: v, dz: dz, dq: &dq, dk: &dk, dv: &dv, tokens: tokens, heads: heads,
                                     kvHeads: kvHeads, headDim: hd, scratch: &scratch, queryBlock: queryBlock)
            func rows(_ x: [Double], _ width: Int) -> [[Double]] { (0..<tokens).map { Array(x[$0 * width..<($0 + 1) * width]) } }
            let qd = q.map(Double.init), kd = k.map(Double.init), vd = v.map(Double.init), dzd = dz.map(Double.init)
            func loss(_ q: [Double], _ k: [Double], _ v: [Double]) -> Double {
                let z = ReferenceOps.attention(q: rows(q, qw), k: rows(k, kw), v: rows(v, kw), heads: heads, kvHeads: kvHeads, headDim: hd)
                return dot(Array(z.joined()), dzd)
            }
            let label = "H=\(heads) KV=\(kvHeads) block \(queryBlock)"
            assertGradient(dq, numericGradient(qd) { loss($0, kd, vd) }, "attention dq \(label)")
            assertGradient(dk, numericGradient(kd) { loss(qd, $0, vd) }, "attention dk \(label)")
            assertGradient(dv, numericGradient(vd) { loss(qd, kd, $0) }, "attention dv \(label)")
        }
    }

    func testCrossEntropyLossAndGradient() {
        let vocab = 7, targets: [Int32] = [3, 0, 6], weight: Float = 0.25
        let logits = randomFloats(targets.count * vocab, scale: 3, seed: 14)
        var gradient = logits
        let losses = CrossEntropy.lossAndGradient(&gradient, vocab: vocab, targets: targets, weight: weight)
        func total(_ x: [Double]) -> Double {
            targets.indices.reduce(0.0) { $0 + ReferenceOps.crossEntropy(Array(x[$1 * vocab..<($1 + 1) * vocab]), target: Int(targets[$1])) }
        }
        for (i, loss) in losses.enumerated() {
            let row = logits[i * vocab..<(i + 1) * vocab].map(Double.init)
            XCTAssertEqual(loss, ReferenceOps.crossEntropy(row, target: Int(targets[i])), accuracy: 1e-6)
        }
        assertGradient(gradient, numericGradient(logits.map(Double.init)) { Double(weight) * total($0) }, "cross-entropy dlogits")
    }

    func testLoRALinearBackwardWithAndWithoutDropout() {
        let rows = 4, inner = 5, out = 6, rank = 3, scale: Float = 2.5
        let config = LoRAConfig(rank: rank, alpha: scale * Float(rank), dropout: 0, targets: [.q])
        // A one-layer layout whose q adapter is [3, 5] / [6, 3]: hidden 5, one head of 6 (headDim only sizes q).
        let model = ModelConfig(vocabSize: 3, hidden: inner, headDim: out, layers: [LayerShape(heads: 1, kvHeads: 1, intermediate: 2)],
                                rmsNormEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true, maxPositions: 8)
        let layout = LoRALayout(config: config, model: model)
        let entry = layout.entries[0]
        XCTAssertEqual([entry.inFeatures, entry.outFeatures], [inner, out])
        let parameters = randomFloats(layout.count, scale: 0.7, seed: 15)
        let weight = Tensor(shape: [out, inner], data: randomFloats(out * inner, seed: 16))
        let x = randomFloats(rows * inner, seed: 17), dy = randomFloats(rows * out, seed: 18)
        for dropout: Float in [0, 0.4] {
            let linear = LoRALinear(weight: weight, entry: entry, scale: scale, dropout: dropout, dropoutSeed: 99)
            let (y, saved) = linear.forward(x, rows: rows, parameters: parameters)
            var dx = [Float](repeating: 0, count: x.count), gradients = [Float](repeating: 0, count: layout.count)
            linear.backward(dy: dy, x: x, saved: saved, rows: rows, parameters: parameters, dx: &dx, gradients: &gradients)
            // The mask the layer drew, read off a vector of ones: 0 or 1/(1-p) per element.
            let mask = linear.droppedCopy([Float](repeating: 1, count: x.count)).map(Double.init)
            if dropout > 0 { XCTAssertTrue(mask.contains(0) && mask.contains { $0 > 1 }, "dropout drew no mask") }
            func loss(x: [Double], p: [Double]) -> Double {
                (0..<rows).reduce(0.0) { total, r in
                    let row = Array(x[r * inner..<(r + 1) * inner])
                    let yr = ReferenceOps.linear(row, w: weight.data.map(Double.init), out: out, a: Array(p[entry.a]), b: Array(p[entry.b]),
                                                 rank: rank, scale: Double(scale),
                                                 branchInput: zip(row, mask[r * inner..<(r + 1) * inner]).map(*))
                    return total + dot(yr, dy[r * out..<(r + 1) * out].map(Double.init))
                }
            }
            let xd = x.map(Double.init), pd = parameters.map(Double.init)
            XCTAssertLessThan(relativeError(y, (0..<rows * out).map { i in
                let r = i / out, row = Array(xd[r * inner..<(r + 1) * inner])
                return ReferenceOps.linear(row, w: weight.data.map(Double.init), out: out, a: Array(pd[entry.a]), b: Array(pd[entry.b]),
                                           rank: rank, scale: Double(scale), branchInput: zip(row, mask[r * inner..<(r + 1) * inner]).map(*))[i % out]
            }), 1e-6, "forward, dropout \(dropout)")
            assertGradient(dx, numericGradient(xd) { loss(x: $0, p: pd) }, "LoRA linear dx, dropout \(dropout)")
            assertGradient(gradients, numericGradient(pd) { loss(x: xd, p: $0) }, "LoRA linear dA and dB, dropout \(dropout)")
        }
    }
}
