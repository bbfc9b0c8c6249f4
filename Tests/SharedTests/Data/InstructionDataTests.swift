import Foundation
import XCTest
@testable import Shared

/// The Alpaca training template, the response-only loss mask, the held-out split and the per-epoch order.
final class InstructionDataTests: XCTestCase {
    /// 256 single-byte tokens (id = byte value, no merges) plus "<eos>" = 256: every text encodes to its UTF-8 bytes.
    let tokenizer: BPETokenizer = {
        let vocabulary = (0..<256).map { ByteLevel.encode([UInt8($0)]) } + ["<eos>"]
        let spec = TokenizerSpec(vocabulary: vocabulary, merges: [], preTokenizer: .gpt2, specialTokenIds: [256],
                                 bosTokenId: nil, eosTokenId: 256, addBos: false)
        return try! BPETokenizer(spec)
    }()

    func bytes(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }

    func testAlpacaTemplatesAreStanfordAlpacasPromptDict() {
        XCTAssertEqual(InstructionData.alpacaPrompt(instruction: "Add 2 and 3.", input: ""),
                       "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd 2 and 3.\n\n### Response:\n")
        XCTAssertEqual(InstructionData.alpacaPrompt(instruction: "Translate.", input: "bonjour"),
                       "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nTranslate.\n\n### Input:\nbonjour\n\n### Response:\n")
    }

    func testTokensAreThePromptThenTheOutputThenEOSWithTheMaskOnTheResponse() {
        let prompt = InstructionData.alpacaPrompt(instruction: "Sum?", input: "1 2")
        let example = InstructionData.example(instruction: "Sum?", input: "1 2", output: "3", tokenizer: tokenizer,
                                              eos: 256, maxLength: 512)
        XCTAssertEqual(example.tokens, bytes(prompt) + [51, 256])
        XCTAssertEqual(example.lossMask, [Bool](repeating: false, count: prompt.utf8.count) + [true, true])
        XCTAssertEqual(example.targetCount, 2)

        // Cut to the prompt plus one token: only the output's first token stays a target.
        let cut = InstructionData.example(instruction: "Sum?", input: "1 2", output: "three", tokenizer: tokenizer,
                                          eos: 256, maxLength: prompt.utf8.count + 1)
        XCTAssertEqual(cut.tokens, bytes(prompt) + [116])
        XCTAssertEqual(cut.lossMask.lastIndex(of: false), prompt.utf8.count - 1)
        XCTAssertEqual(cut.targetCount, 1)
    }

    func testABOSTheTokenizerAddsAppearsOnceAtTheStart() throws {
        var spec = tokenizer.spec
        spec.bosTokenId = 256
        spec.addBos = true
        let withBos = try BPETokenizer(spec)
        let example = InstructionData.example(instruction: "Hi", input: "", output: "yo", tokenizer: withBos, eos: 256, maxLength: 512)
        XCTAssertEqual(example.tokens, [256] + bytes(InstructionData.alpacaPrompt(instruction: "Hi", input: "")) + bytes("yo") + [256])
        XCTAssertEqual(example.targetCount, 3)
    }

    func testFileRowsAndBadFiles() throws {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-instruct-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func file(_ name: String, _ text: String) throws -> String {
            let path = directory + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let good = try file("good.jsonl", """
            {"instruction": "a", "output": "b"}

            {"instruction": "\(String(repeating: "long ", count: 40))", "input": "x", "output": "c"}
            {"instruction": "d", "input": null, "output": "ef"}
            """)
        let read = try InstructionData.examples(path: good, tokenizer: tokenizer, maxLength: 150)
        XCTAssertEqual(read.truncatedAway, 1, "the long prompt leaves no response within 150 tokens")
        XCTAssertEqual(read.examples.map(\.targetCount), [2, 3])
        XCTAssertEqual(read.examples[1].tokens, bytes(InstructionData.alpacaPrompt(instruction: "d", input: "")) + bytes("ef") + [256])
        XCTAssertEqual(try InstructionData.examples(path: good, tokenizer: tokenizer, maxLength: 150, limit: 1).examples,
                       [read.examples[0]], "a limit stops at that many examples")

        func expectError(_ path: String, tokenizer chosen: BPETokenizer? = nil, maxLength: Int = 64, _ text: String) {
            XCTAssertThrowsError(try InstructionData.examples(path: path, tokenizer: chosen ?? tokenizer, maxLength: maxLength)) { error in
                let message = (error as? MopError)?.description ?? ""
                XCTAssertTrue(message.contains(path) && message.contains(text), "\(error) should name \(path) and \(text)")
            }
        }
        expectError(try file("no-output.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"a\"}\n"),
                    "line 2: missing field \"output\"")
        expectError(try file("number.jsonl", "{\"instruction\": 3, \"output\": \"b\"}\n"), "line 1: field \"instruction\" is not a string")
        expectError(try file("broken.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{oops\n"), "line 2: not valid JSON")
        expectError(try file("empty.jsonl", "\n\n"), "holds no rows")
        expectError(directory + "/absent.jsonl", "no such file or directory")
        expectError(good, maxLength: 20, "no row has a response within 20 tokens")
        expectError(good, maxLength: 1, "leaves no room")
        var noEos = tokenizer.spec
        noEos.eosTokenId = nil
        expectError(good, tokenizer: try BPETokenizer(noEos), "no EOS")
    }

    func testHeldOutSplitIsSeededDisjointAndComplete() throws {
        let items = Array(0..<100)
        let a = try InstructionData.split(items, heldOutFraction: 0.05, seed: 7, file: "d")
        let again = try InstructionData.split(items, heldOutFraction: 0.05, seed: 7, file: "d")
        let other = try InstructionData.split(items, heldOutFraction: 0.05, seed: 8, file: "d")
        XCTAssertEqual(a.heldOut.count, 5)
        XCTAssertEqual(a.train.count, 95)
        XCTAssertEqual(a.heldOut, again.heldOut)
        XCTAssertNotEqual(a.heldOut, other.heldOut)
        XCTAssertTrue(Set(a.heldOut).isDisjoint(with: a.train))
        XCTAssertEqual((a.heldOut + a.train).sorted(), items)
        XCTAssertEqual(a.train, a.train.sorted(), "each part keeps file order")
        XCTAssertEqual(try InstructionData.split(items, heldOutFraction: 0, seed: 7, file: "d").heldOut, [])
        XCTAssertEqual(try InstructionData.split([1, 2, 3], heldOutFraction: 0.01, seed: 7, file: "d").heldOut.count, 1)
        XCTAssertThrowsError(try InstructionData.split([1, 2], heldOutFraction: 0.9, seed: 7, file: "data.jsonl")) {
            XCTAssertTrue("\($0)".contains("data.jsonl: 2 examples are too few"), "\($0)")
        }
        XCTAssertThrowsError(try InstructionData.split(items, heldOutFraction: 1, seed: 7, file: "data.jsonl")) {
            XCTAssertTrue("\($0)".contains("outside [0, 1)"), "\($0)")
        }
    }

    func testEpochOrdersArePermutationsThatChangeEachEpochAndBatchesFollowThem() {
        let first = InstructionData.epochOrder(count: 10, epoch: 0, seed: 3)
        let second = InstructionData.epochOrder(count: 10, epoch: 1, seed: 3)
        XCTAssertEqual(first.sorted(), Array(0..<10))
        XCTAssertEqual(second.sorted(), Array(0..<10))
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(first, InstructionData.epochOrder(count: 10, epoch: 0, seed: 3))
        XCTAssertNotEqual(first, InstructionData.epochOrder(count: 10, epoch: 0, seed: 4))
        let items = Array(100..<110)
        // Step 2 of batch 4 takes positions 8, 9 of epoch 0 and 0, 1 of epoch 1.
        XCTAssertEqual(InstructionData.batch(items, step: 2, batchSize: 4, seed: 3),
                       [items[first[8]], items[first[9]], items[second[0]], items[second[1]]])
        XCTAssertEqual(InstructionData.batch(items, step: 0, batchSize: 3, seed: 3), first.prefix(3).map { items[$0] })
    }
}
