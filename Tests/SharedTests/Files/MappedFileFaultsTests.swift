import Foundation
import XCTest
@testable import Shared

/// A mapped file that shrinks: the kernel returns EFAULT to a system call reading a lost page (where a read in the
/// process would raise SIGBUS, which the integration tests cover), and the output being written names the model
/// file and its sizes, not "Bad address"; an address outside any mapping is not blamed on a file.
final class MappedFileFaultsTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws { directory = try SafetensorsTestSupport.temporaryDirectory(self) }

    func testWritingFromAShrunkMappingNamesTheChangedFile() throws {
        let model = directory + "/model.bin", size = 1 << 20
        try Data(repeating: 7, count: size).write(to: URL(fileURLWithPath: model))
        let file = try MappedFile(path: model)
        let bytes = try file.bytes(at: 0, length: size, what: "everything")
        XCTAssertNil(MappedFileFaults.changedFileError(at: bytes.baseAddress!), "the file has not changed yet")
        XCTAssertEqual(truncate(model, 4096), 0)
        let tail = UnsafeRawBufferPointer(rebasing: bytes[(size / 2)...])
        XCTAssertEqual(MappedFileFaults.changedFileError(at: tail.baseAddress!)?.description,
                       "\(model): the file changed while it was in use (now 4096 bytes, was \(size))")

        let output = directory + "/out.bin"
        let writer = try AtomicFileWriter(path: output)
        XCTAssertThrowsError(try writer.append(tail)) { error in
            XCTAssertEqual("\(error)", "\(model): the file changed while it was in use (now 4096 bytes, was \(size))")
        }
        let unrelated = [UInt8](repeating: 1, count: 8)
        unrelated.withUnsafeBytes { XCTAssertNil(MappedFileFaults.changedFileError(at: $0.baseAddress!)) }
    }
}
