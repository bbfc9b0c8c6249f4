import XCTest

/// End-to-end checks on the real Qwen2.5-Coder-0.5B-Instruct GGUF (qwen2: q/k/v biases, untied head, Q5_0, Q8_0,
/// Q4_K and Q6_K tensors, the qwen2 pre-tokenizer).
final class Qwen2EvalTests: XCTestCase {
    /// transformers 5.24's perplexity of the same GGUF (`from_pretrained(dir, gguf_file=...)`, fp32) over these
    /// windows, by `scripts/check-transformers.py MODEL --max-tokens 2048`.
    static let transformersPerplexity = 45.7210
    var evalArgs: [String] {
        get throws {
            ["eval", try RealInputs.qwen05(), "--ppl", RealInputs.sharedData + "/text/wikitext2-test.txt", "--seq-len", "512",
             "--max-tokens", "2048", "--json"]
        }
    }

    func testInspectReportsQwen2Shapes() throws {
        let output = try MopProcess.run(["inspect", try RealInputs.qwen05(), "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let json = try XCTUnwrap(output.json)
        XCTAssertEqual(json["architecture"] as? String, "qwen2")
        XCTAssertEqual(json["layers"] as? Int, 24)
        XCTAssertEqual(json["hidden"] as? Int, 896)
        XCTAssertEqual(json["heads"] as? [Int], [Int](repeating: 14, count: 24))
        XCTAssertEqual(json["kv_heads"] as? [Int], [Int](repeating: 2, count: 24))
        XCTAssertEqual(json["intermediate"] as? [Int], [Int](repeating: 4864, count: 24))
        XCTAssertEqual(json["vocab"] as? Int, 151_936)
        // Two 151,936 x 896 tables (the file's head is untied) + 24 blocks of 14,912,384 (1,152 of them q/k/v
        // biases: 14*64 + 2*2*64) + the final norm.
        XCTAssertEqual(json["parameters"] as? Int, 2 * 151_936 * 896 + 24 * 14_912_384 + 896)
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

    /// Ids from Hugging Face's tokenizer of the same file (transformers 5.24, AutoTokenizer with gguf_file): digits
    /// one by one, accents NFC, tabs and indentation, CJK, a special token matched whole.
    func testTokenizerEqualsHuggingFace() throws {
        let text = "Hello world! Qwen2.5-Coder: 12345 déjà vu\n\tdef f(x):\n    return x**2  # 中文 <|im_end|>"
        let output = try MopProcess.run(["tokenize", try RealInputs.qwen05(), "--string", text, "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.json?["ids"] as? [Int], [9707, 1879, 0, 1207, 16948, 17, 13, 20, 7658, 4316, 25, 220, 16, 17,
                                                        18, 19, 20, 45839, 32514, 198, 7452, 282, 2075, 982, 262, 470,
                                                        856, 334, 17, 220, 671, 72858, 16744, 220, 151645])
    }

    /// Greedy decoding through the ChatML template from the file, the KV cache and the biases.
    func testChatAnswersAQuestion() throws {
        let output = try MopProcess.run(["generate", try RealInputs.qwen05(), "--chat", "--prompt",
                                         "What is the capital of France? Answer in one sentence.", "--max-new-tokens", "12",
                                         "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let text = try XCTUnwrap(output.json?["text"] as? String, output.stdout)
        XCTAssertTrue(text.contains("Paris"), text)
    }
}
