import XCTest

/// End-to-end checks on the real Gemma-3-270m Q4_K_M GGUF (gemma3: sandwich (1 + w) norms, q/k norms, GeGLU,
/// scaled embeddings, sliding-window and global layers with their own RoPE bases, a tied 262k head).
final class Gemma3EvalTests: XCTestCase {
    /// transformers' fp32 perplexity of the same GGUF over these windows (the reference number).
    static let transformersPerplexity = 50.1024
    var evalArgs: [String] {
        get throws {
            ["eval", try RealInputs.gemma3(), "--ppl", RealInputs.sharedData + "/text/wikitext2-test.txt", "--seq-len", "512",
             "--max-tokens", "2048", "--json"]
        }
    }

    func testInspectReportsGemma3Shapes() throws {
        let output = try MopProcess.run(["inspect", try RealInputs.gemma3(), "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json)
        XCTAssertEqual(json["architecture"] as? String, "gemma3")
        XCTAssertEqual(json["layers"] as? Int, 18)
        XCTAssertEqual(json["hidden"] as? Int, 640)
        XCTAssertEqual(json["heads"] as? [Int], [Int](repeating: 4, count: 18))
        XCTAssertEqual(json["kv_heads"] as? [Int], [Int](repeating: 1, count: 18))
        XCTAssertEqual(json["intermediate"] as? [Int], [Int](repeating: 2048, count: 18))
        XCTAssertEqual(json["vocab"] as? Int, 262_144)
        // One tied 262,144 x 640 table + 18 blocks of q 1024x640, k and v 256x640, o 640x1024, gate/up/down
        // 3 x 2048x640, four 640 norms and two 256 q/k norms + the final norm.
        let block = 1024 * 640 + 2 * 256 * 640 + 640 * 1024 + 3 * 2048 * 640 + 4 * 640 + 2 * 256
        XCTAssertEqual(json["parameters"] as? Int, 262_144 * 640 + 18 * block + 640)
    }

    func testPerplexityEqualsTransformersAndTwoRanksEqualOne() throws {
        let single = try MopProcess.run(try evalArgs, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let perplexity = try XCTUnwrap(single.json?["perplexity"] as? Double, single.stdout)
        XCTAssertEqual(perplexity, Self.transformersPerplexity, accuracy: 1e-3 * Self.transformersPerplexity)

        let distributed = try MopProcess.mpirun(ranks: 2, try evalArgs)
        XCTAssertEqual(distributed.status, 0, distributed.stderr)
        let twoRanks = try XCTUnwrap(distributed.json?["perplexity"] as? Double, distributed.stdout)
        XCTAssertEqual(twoRanks, perplexity, accuracy: CrossRunTolerance.relative * perplexity)
    }
}
