import Foundation
import XCTest
@testable import Shared

/// The helpers every reader shares for issue 13: checked sizes, printable text from files, regular-file reading,
/// line splitting that accepts CRLF and a byte order mark, config bounds, LoRA rank bounds, RoPE past its table.
final class HostileInputHelperTests: XCTestCase {
    func testCheckedSizes() {
        XCTAssertEqual(CheckedSize.product([576, 49152, 2]), 56_623_104)
        XCTAssertNil(CheckedSize.product([1 << 62, 4]))
        XCTAssertNil(CheckedSize.product([3, -1]))
        XCTAssertEqual(CheckedSize.sum([1, 2, 3]), 6)
        XCTAssertNil(CheckedSize.sum([Int.max, 1]))
        XCTAssertEqual(CheckedSize.aligned(33, to: 32), 64)
        XCTAssertEqual(CheckedSize.aligned(64, to: 32), 64)
        XCTAssertNil(CheckedSize.aligned(Int.max - 3, to: 32))
    }

    func testPrintableTextEscapesAndCaps() {
        XCTAssertEqual(PrintableText.quote("llama.block_count"), "llama.block_count")
        XCTAssertEqual(PrintableText.quote("a b"), "\"a b\"")
        XCTAssertEqual(PrintableText.quote("a\u{1B}[2Jb\n"), "\"a\\u{1B}[2Jb\\n\"")
        XCTAssertEqual(PrintableText.quote(String(repeating: "x", count: 100), limit: 4), "\"xxxx\"... (100 bytes)")
    }

    func testLinesAcceptCRLFAndByteOrderMark() throws {
        XCTAssertEqual(TextFile.lines(of: "\u{FEFF}a\r\nb\n\r\nc"), ["a", "b", "", "c"])
        let path = NSTemporaryDirectory() + "mop-lines-\(UUID().uuidString)"
        defer { unlink(path) }
        try Data([0xEF, 0xBB, 0xBF] + Array("x\r\ny".utf8)).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try TextFile.lines(path: path).map(\.text), ["x", "y"])
        XCTAssertEqual(try TextFile.read(path), "x\r\ny")
    }

    func testRegularFileRefusesEverythingElse() throws {
        SafetensorsTestSupport.assertMopError(try RegularFile.read("/dev/zero"), path: "/dev/zero", phrase: "is a character device, not a regular file")
        SafetensorsTestSupport.assertMopError(try RegularFile.read("/tmp"), path: "/tmp", phrase: "is a directory, not a regular file")
        SafetensorsTestSupport.assertMopError(try RegularFile.read("/nonexistent/x"), path: "/nonexistent/x", phrase: "no such file or directory")
    }

    func testConfigBoundsAreOneValidation() {
        var config = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4, layers: [LayerShape(heads: 4, kvHeads: 2, intermediate: 24)],
                                 tiedEmbeddings: true)
        XCTAssertNoThrow(try config.validate(file: "c"))
        for (edit, phrase) in [({ (c: inout ModelConfig) in c.rmsNormEps = 0 }, "RMSNorm epsilon 0.0 is outside (0, 1)"),
                               ({ $0.rmsNormEps = .infinity }, "RMSNorm epsilon inf"),
                               ({ $0.ropeTheta = 1e-30 }, "RoPE theta 1e-30 is not a finite number above 1"),
                               ({ $0.hidden = 1 << 40 }, "hidden size 1099511627776 is outside 1...4194304"),
                               ({ $0.maxPositions = Int(UInt32.max) }, "context length (positions) 4294967295 is outside")] {
            var bad = config
            edit(&bad)
            SafetensorsTestSupport.assertMopError(try bad.validate(file: "c"), path: "c", phrase: phrase)
        }
        config.layers[0].intermediate = ModelConfig.maxDimension
        XCTAssertEqual(config.checkedParameters, config.parameters)
    }

    func testLoRARankAboveTheSmallestMatrixIsRefused() throws {
        let model = ModelConfig(vocabSize: 40, hidden: 16, headDim: 4, layers: [LayerShape(heads: 4, kvHeads: 1, intermediate: 24)],
                                tiedEmbeddings: true)
        XCTAssertNoThrow(try LoRAConfig(rank: 4).validate(for: model, file: nil))
        SafetensorsTestSupport.assertMopError(try LoRAConfig(rank: 5).validate(for: model, file: "m"), path: "m",
                               phrase: "LoRA rank 5 exceeds 4, the smaller dimension of the smallest adapted matrix")
    }

    /// Positions past the precomputed table rotate exactly as the table would have.
    func testRopePastItsTableMatchesTheTable() {
        let config = ModelConfig(vocabSize: 8, hidden: 8, headDim: 4, layers: [LayerShape(heads: 2, kvHeads: 2, intermediate: 8)],
                                 tiedEmbeddings: true, maxPositions: Rope.tableLimit + 10)
        let rope = Rope(config: config, positions: config.maxPositions)
        XCTAssertEqual(rope.cosTable.count, Rope.tableLimit * 2)
        let start = Rope.tableLimit - 2
        var x = (0..<(4 * 8)).map { Float($0) / 7 }
        x.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, tokens: 4, heads: 2, startPosition: start) }
        for t in 0..<4 {
            let position = Double(start + t)
            let angle = position * Rope.inverseFrequencies(config)[1]
            let x1 = Float(t * 8 + 1) / 7, x2 = Float(t * 8 + 3) / 7
            XCTAssertEqual(x[t * 8 + 1], x1 * Float(cos(angle)) - x2 * Float(sin(angle)), accuracy: 1e-5)
        }
    }
}
