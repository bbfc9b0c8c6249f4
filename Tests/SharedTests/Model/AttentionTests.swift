import XCTest
@testable import Shared

/// Blocked causal attention against the float64 reference, across query-block boundaries, after a past and with
/// masked heads.
final class AttentionTests: XCTestCase {
    let heads = 4, kvHeads = 2, hd = 8

    /// attend's z for `tokens` rows after `past` positions, q/k/v given for all past+tokens positions.
    func blocked(q: [Float], k: [Float], v: [Float], tokens: Int, past: Int, queryBlock: Int,
                 activeHeads: [Bool]? = nil) -> [Float] {
        var z = [Float](repeating: .nan, count: tokens * heads * hd)
        // NaN scratch: every score the function reads must have been written by it.
        var scratch = [Float](repeating: .nan, count: Attention.scratchCount(tokens: tokens, past: past, queryBlock: queryBlock))
        let newQueries = Array(q.suffix(tokens * heads * hd))
        if let activeHeads {
            for t in 0..<tokens { for h in 0..<heads where !activeHeads[h] { for i in 0..<hd { z[(t * heads + h) * hd + i] = 0 } } }
        }
        Attention.attend(q: newQueries, k: k, v: v, z: &z, tokens: tokens, past: past, heads: heads, kvHeads: kvHeads,
                         headDim: hd, activeHeads: activeHeads, scratch: &scratch, queryBlock: queryBlock)
        return z
    }

    /// The reference's rows past..<past+tokens, as floats in one array.
    func reference(q: [Float], k: [Float], v: [Float], positions: Int, past: Int) -> [Double] {
        func rows(_ x: [Float], _ width: Int) -> [[Double]] { (0..<positions).map { t in x[t * width..<(t + 1) * width].map(Double.init) } }
        let z = ReferenceOps.attention(q: rows(q, heads * hd), k: rows(k, kvHeads * hd), v: rows(v, kvHeads * hd),
                                       heads: heads, kvHeads: kvHeads, headDim: hd)
        return z[past...].flatMap { $0 }
    }

    func assertClose(_ actual: [Float], _ expected: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        let worst = zip(actual, expected).map { abs(Double($0) - $1) }.max() ?? .nan
        XCTAssertLessThan(worst, 1e-5, "\(what): worst difference \(worst)", file: file, line: line)
    }

    func inputs(positions: Int, seed: UInt64) -> (q: [Float], k: [Float], v: [Float]) {
        (randomFloats(positions * heads * hd, scale: 2, seed: seed), randomFloats(positions * kvHeads * hd, scale: 2, seed: seed + 1),
         randomFloats(positions * kvHeads * hd, seed: seed + 2))
    }

    func testEveryQueryBlockSizeGivesTheReference() {
        let tokens = 37, (q, k, v) = inputs(positions: tokens, seed: 10)
        let expected = reference(q: q, k: k, v: v, positions: tokens, past: 0)
        for queryBlock in [1, 5, 36, 37, Attention.queryBlock] {
            assertClose(blocked(q: q, k: k, v: v, tokens: tokens, past: 0, queryBlock: queryBlock), expected, "block \(queryBlock)")
        }
    }

    func testTokensAfterAPastAttendToItAndToEachOther() {
        let past = 11, tokens = 9, (q, k, v) = inputs(positions: past + tokens, seed: 20)
        let expected = reference(q: q, k: k, v: v, positions: past + tokens, past: past)
        for queryBlock in [1, 4, Attention.queryBlock] {
            assertClose(blocked(q: q, k: k, v: v, tokens: tokens, past: past, queryBlock: queryBlock), expected, "past, block \(queryBlock)")
        }
        // One decode step: the last position alone.
        let step = reference(q: q, k: k, v: v, positions: past + tokens, past: past + tokens - 1)
        assertClose(blocked(q: q, k: k, v: v, tokens: 1, past: past + tokens - 1, queryBlock: 4), step, "decode step")
    }

    func testMaskedHeadsAreNotComputed() {
        let tokens = 13, active = [true, false, false, true], (q, k, v) = inputs(positions: tokens, seed: 30)
        let all = reference(q: q, k: k, v: v, positions: tokens, past: 0)
        let expected = all.indices.map { active[($0 / hd) % heads] ? all[$0] : 0 }
        assertClose(blocked(q: q, k: k, v: v, tokens: tokens, past: 0, queryBlock: 6, activeHeads: active), expected, "masked heads")
    }

    func testScratchIsOneBlockOfScoresNotTheSquare() {
        XCTAssertEqual(Attention.scratchCount(tokens: 32_768), Attention.queryBlock * 32_768)
        XCTAssertEqual(Attention.scratchCount(tokens: 3, past: 10), 3 * 13)
    }
}
