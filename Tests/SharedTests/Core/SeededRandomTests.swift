import XCTest
@testable import Shared

final class SeededRandomTests: XCTestCase {
    /// SplitMix64 (Steele, Lea, Flood 2014): the reference outputs of seed 0, and any output drawn by its index.
    func testSequenceAndIndexedOutputsAgree() {
        var rng = SeededRandom(seed: 0)
        XCTAssertEqual([rng.next(), rng.next(), rng.next()], [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        for seed: UInt64 in [0, 7, .max] {
            var sequential = SeededRandom(seed: seed)
            for index: UInt64 in 0..<100 {
                XCTAssertEqual(SeededRandom.output(seed: seed, index: index), sequential.next(), "seed \(seed), index \(index)")
            }
        }
    }
}
