import XCTest
@testable import Shared

final class ProcessMemoryTests: XCTestCase {
    func testFieldsOfAProcStatusText() throws {
        let status = "Name:\tmop\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n"
        XCTAssertEqual(try ProcessMemory.field("VmRSS", status: status, file: "status"), 100000 * 1024)
        XCTAssertEqual(try ProcessMemory.field("VmHWM", status: status, file: "status"), 123456 * 1024)
        XCTAssertThrowsError(try ProcessMemory.field("VmSwap", status: status, file: "/proc/x/status")) {
            XCTAssertEqual("\($0)", "/proc/x/status: has no VmSwap line")
        }
        XCTAssertThrowsError(try ProcessMemory.resident(statusFile: "/nonexistent/status")) {
            XCTAssertTrue("\($0)".hasPrefix("/nonexistent/status: "), "\($0)")
        }
        XCTAssertThrowsError(try ProcessMemory.resetPeak(clearRefsFile: "/nonexistent/clear_refs")) {
            XCTAssertTrue("\($0)".hasPrefix("/nonexistent/clear_refs: "), "\($0)")
        }
    }

    /// After a reset the peak follows new memory: 64 MB written raise it by about that much.
    func testResetPeakThenMeasureOneAllocation() throws {
        let before = try ProcessMemory.resident()
        try ProcessMemory.resetPeak()
        XCTAssertLessThan(try ProcessMemory.peak(), before + (16 << 20), "the reset did not bring the peak down to now")
        var block = [UInt8](repeating: 1, count: 64 << 20)
        block[block.count - 1] = 2
        let peak = try ProcessMemory.peak()
        XCTAssertGreaterThan(peak - before, 60 << 20)
        XCTAssertEqual(block.last, 2)
    }
}
