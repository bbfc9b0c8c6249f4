import XCTest
@testable import Shared

final class MopErrorTests: XCTestCase {
    func testTheMessageNamesTheFileFirst() {
        XCTAssertEqual(MopError(file: "a/b.gguf", "not a GGUF file").description, "a/b.gguf: not a GGUF file")
        XCTAssertEqual(MopError("--target must be in (0, 1)").description, "--target must be in (0, 1)")
    }

    func testAnEmptyPathIsSaidInWords() throws {
        XCTAssertEqual(MopError(file: "", "no such file or directory").description,
                       "\"\" (an empty path): no such file or directory")
        XCTAssertThrowsError(try RegularFile.read("")) { error in
            XCTAssertEqual("\(error)", "\"\" (an empty path): no such file or directory")
        }
    }
}
