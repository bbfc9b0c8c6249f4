import Foundation

/// Rotary position embedding in the Hugging Face layout (`rotate_half`): within each head, element i pairs with
/// element i + r/2 and both rotate by angle position * invFreq[i], over the first r = `rotaryDims` elements of the
/// head (all of them but in Phi, whose partial rotary leaves the rest as they are).
public struct Rope: Sendable {
    public let headDim: Int
    public let rotaryDims: Int
    /// cos and sin of every (position, i) below `tablePositions`, [tablePositions, hd/2], computed in float64 then
    /// rounded; later positions are computed the same way when used.
    let cosTable: [Float]
    let sinTable: [Float]
    let invFreq: [Double]
    /// The positions the model takes (its context length).
    public let positions: Int

    /// Positions tabulated up front. The table is sized by what runs, not by the context length a file states
    /// (a header may claim 2^31 positions); 32768 positions of a 128-wide head take 16 MB.
    static let tableLimit = 1 << 15

    public init(config: ModelConfig, positions: Int, theta: Float? = nil) {
        headDim = config.headDim
        rotaryDims = config.rotaryDimensions
        self.positions = positions
        let invFreq = Self.inverseFrequencies(config, theta: theta ?? config.ropeTheta)
        self.invFreq = invFreq
        (cosTable, sinTable) = Self.angleRows(0..<min(positions, Self.tableLimit), invFreq: invFreq)
    }

    /// The RoPE of every layer (layers of one base share one table): most families have one base, Gemma-3 two.
    public static func perLayer(_ config: ModelConfig, positions: Int) -> [Rope] {
        var byTheta: [Float: Rope] = [:]
        return config.layers.indices.map { index in
            let theta = config.attention(layer: index).ropeTheta
            if let rope = byTheta[theta] { return rope }
            let rope = Rope(config: config, positions: positions, theta: theta)
            byTheta[theta] = rope
            return rope
        }
    }

    /// theta^(-2i/hd), with llama3 frequency scaling when the config asks for it.
    public static func inverseFrequencies(_ config: ModelConfig, theta: Float? = nil) -> [Double] {
        let dims = config.rotaryDimensions, theta = Double(theta ?? config.ropeTheta)
        var inv = (0..<(dims / 2)).map { pow(theta, -2 * Double($0) / Double(dims)) }
        if let s = config.ropeScaling {
            let lowWavelength = Double(s.originalMaxPositions) / Double(s.lowFreqFactor)
            let highWavelength = Double(s.originalMaxPositions) / Double(s.highFreqFactor)
            inv = inv.map { f in
                let wavelength = 2 * Double.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / Double(s.factor) }
                let smooth = (Double(s.originalMaxPositions) / wavelength - Double(s.lowFreqFactor))
                    / Double(s.highFreqFactor - s.lowFreqFactor)
                return (1 - smooth) * f / Double(s.factor) + smooth * f
            }
        }
        return inv
    }

    /// Rotates every head of x in place. x: [T, heads*hd], row t at position startPosition + t.
    public func apply(_ x: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, startPosition: Int = 0) {
        rotate(x, tokens: tokens, heads: heads, startPosition: startPosition, sinSign: 1)
    }

    /// The backward of `apply`: RoPE is a rotation per (position, pair), so the gradient rotates back by the
    /// opposite angle. dx: [T, heads*hd], in place.
    public func applyInverse(_ dx: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, startPosition: Int = 0) {
        rotate(dx, tokens: tokens, heads: heads, startPosition: startPosition, sinSign: -1)
    }

    private func rotate(_ x: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, startPosition: Int, sinSign: Float) {
        precondition(startPosition + tokens <= positions, "RoPE table holds \(positions) positions")
        let half = rotaryDims / 2
        let tabulated = cosTable.count / max(1, half)
        // The table's rows of these positions, or (past the table) the same values computed now.
        let computed = startPosition + tokens > tabulated
            ? Self.angleRows(startPosition..<(startPosition + tokens), invFreq: invFreq) : nil
        let first = computed == nil ? startPosition * half : 0
        (computed?.cos ?? cosTable).withUnsafeBufferPointer { cosRows in
            (computed?.sin ?? sinTable).withUnsafeBufferPointer { sinRows in
                let values = SendablePointer(x)
                let cosines = SendablePointer(UnsafeMutablePointer(mutating: cosRows.baseAddress! + first))
                let sines = SendablePointer(UnsafeMutablePointer(mutating: sinRows.baseAddress! + first))
                let width = heads * headDim
                guard rotaryDims == headDim else {
                    Self.rotatePartially(values.pointer, tokens: tokens, heads: heads, headDim: headDim, half: half,
                                         cos: cosines.pointer, sin: sines.pointer, sinSign: sinSign)
                    return
                }
                // Tokens are independent: splitting them among the threads changes no value.
                VectorMath.parallelRanges(tokens, minimumWork: VectorMath.parallelElements / max(1, width)) { range in
                    VectorMath.kernels.rope(values.pointer + range.lowerBound * width, Int64(range.count), Int64(heads),
                                            Int64(headDim), cosines.pointer + range.lowerBound * half,
                                            sines.pointer + range.lowerBound * half, sinSign)
                }
            }
        }
    }

    /// The kernel's rotation over the first 2 * half elements of every head, the rest untouched (partial rotary).
    private static func rotatePartially(_ x: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int, half: Int,
                                        cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>, sinSign: Float) {
        for t in 0..<tokens {
            for h in 0..<heads {
                let head = x + (t * heads + h) * headDim
                for i in 0..<half {
                    let c = cos[t * half + i], s = sinSign * sin[t * half + i]
                    let a = head[i], b = head[i + half]
                    head[i] = a * c - b * s
                    head[i + half] = b * c + a * s
                }
            }
        }
    }

    /// cos and sin [positions, r/2] of position * invFreq[i], computed in float64 then rounded: the table, and
    /// positions past it.
    private static func angleRows(_ positions: Range<Int>, invFreq: [Double]) -> (cos: [Float], sin: [Float]) {
        let angles = positions.flatMap { position in invFreq.map { Double(position) * $0 } }
        return (angles.map { Float(Foundation.cos($0)) }, angles.map { Float(Foundation.sin($0)) })
    }
}
