import Foundation
import XCTest

/// The contract of docs/design.md#error-messages for a bad input: exit 1, nothing on stdout, exactly one line
/// `mop: error: ...` on stderr that names the file and says the problem, within `seconds` (a hang or a slow path is a
/// failure too).
enum OneLineError {
    @discardableResult
    static func assert(_ args: [String], naming path: String, saying phrase: String, within seconds: TimeInterval = 60,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let start = Date()
        let output = try MopProcess.run(args, timeout: max(seconds, 10) * 2)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(output.status, 1, output.stderr, file: file, line: line)
        XCTAssertEqual(output.stdout, "", file: file, line: line)
        let lines = output.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, output.stderr, file: file, line: line)
        XCTAssertTrue(output.stderr.hasPrefix("mop: error: "), output.stderr, file: file, line: line)
        XCTAssertTrue(output.stderr.contains(path), "\(output.stderr) does not name \(path)", file: file, line: line)
        XCTAssertTrue(output.stderr.contains(phrase), "\(output.stderr) does not say \(phrase)", file: file, line: line)
        XCTAssertLessThan(elapsed, seconds, "\(args) took \(elapsed) s", file: file, line: line)
        return output.stderr
    }
}
