import XCTest
@testable import Shared

/// `TokenizerSpec.checkFits`: every id a tokenizer can produce must have an embedding row.
final class TokenizerFitTests: XCTestCase {
    func testIdsPastTheEmbeddingAreRefusedAndPaddingRowsAreNot() throws {
        let spec = TokenizerSpec(vocabulary: ["a", "b", "c"], merges: [], preTokenizer: .gpt2, specialTokenIds: [2],
                                 bosTokenId: nil, eosTokenId: 2, addBos: false)
        XCTAssertNoThrow(try spec.checkFits(embeddingRows: 3, file: "t.json"))
        XCTAssertNoThrow(try spec.checkFits(embeddingRows: 64, file: "t.json"))
        XCTAssertThrowsError(try spec.checkFits(embeddingRows: 2, file: "hf/tokenizer.json")) {
            XCTAssertEqual("\($0)", "hf/tokenizer.json: the tokenizer's ids go up to 2 (3 tokens), but the model's embedding has 2 rows: the tokenizer belongs to another model")
        }
        // A named id (pad) past the vocabulary counts too.
        var padded = spec
        padded.padTokenId = 9
        XCTAssertThrowsError(try padded.checkFits(embeddingRows: 5, file: "m.gguf")) {
            XCTAssertTrue("\($0)".contains("ids go up to 9"), "\($0)")
        }
    }
}
