import XCTest

/// End-to-end checks on the real SmolLM2-135M-Instruct.
final class SmolLM2EvalTests: XCTestCase {
    /// A float64 reference implementation's perplexity for exactly these settings (issue 2).
    static let referencePerplexity = 30.23
    var wikitext: String { RealInputs.sharedData + "/text/wikitext2-test.txt" }
    var evalArgs: [String] { get throws { ["eval", try RealInputs.smolLM2(), "--ppl", wikitext, "--seq-len", "512", "--max-tokens", "2048", "--json"] } }

    func testPerplexityMatchesFloat64Reference() throws {
        let output = try MopProcess.run(try evalArgs)
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json, output.stdout)
        let perplexity = try XCTUnwrap(json["perplexity"] as? Double)
        XCTAssertEqual(json["tokens"] as? Int, 2048)
        XCTAssertEqual(json["seq_len"] as? Int, 512)
        XCTAssertEqual(perplexity, Self.referencePerplexity, accuracy: 0.005 * Self.referencePerplexity)
    }

    func testTwoRanksUnderMpirunGiveTheSamePerplexity() throws {
        let single = try MopProcess.run(try evalArgs, environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let distributed = try MopProcess.mpirun(ranks: 2, try evalArgs)
        XCTAssertEqual(distributed.status, 0, distributed.stderr)
        let a = try XCTUnwrap(single.json?["perplexity"] as? Double)
        let b = try XCTUnwrap(distributed.json?["perplexity"] as? Double, distributed.stdout)
        XCTAssertEqual(distributed.json?["ranks"] as? Int, 2)
        XCTAssertEqual(b, a, accuracy: CrossRunTolerance.relative * a)
    }

    func testInspectReportsTheArchitecture() throws {
        let output = try MopProcess.run(["inspect", try RealInputs.smolLM2(), "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json)
        XCTAssertEqual(json["architecture"] as? String, "llama")
        XCTAssertEqual(json["layers"] as? Int, 30)
        XCTAssertEqual(json["hidden"] as? Int, 576)
        XCTAssertEqual(json["heads"] as? [Int], [Int](repeating: 9, count: 30))
        XCTAssertEqual(json["kv_heads"] as? [Int], [Int](repeating: 3, count: 30))
        XCTAssertEqual(json["intermediate"] as? [Int], [Int](repeating: 1536, count: 30))
        XCTAssertEqual(json["vocab"] as? Int, 49152)
        // 49152 x 576 tied embedding + 30 blocks of 3,540,096 + the final norm (the HF model card's 134,515,008).
        XCTAssertEqual(json["parameters"] as? Int, 134_515_008)
        XCTAssertEqual(json["non_embedding_parameters"] as? Int, 134_515_008 - 49152 * 576)
    }
}
