import Foundation
import XCTest
@testable import Shared

/// DirectoryLock: one holder at a time, the holder's pid in the refusal, a dead holder's file taken over, nothing
/// left after release; DirectoryCreation returns what it made so a failed job can remove exactly that.
final class DirectoryLockTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws { directory = try SafetensorsTestSupport.temporaryDirectory(self) }

    private var lockFile: String { directory + "/" + DirectoryLock.fileName }

    func testASecondHolderIsRefusedWithThePidUntilTheFirstReleases() throws {
        let first = try DirectoryLock(directory: directory)
        XCTAssertEqual(try String(contentsOfFile: lockFile, encoding: .utf8), "\(getpid())\n")
        XCTAssertThrowsError(try DirectoryLock(directory: directory)) { error in
            XCTAssertEqual("\(error)", "\(directory): in use by another mop job (pid \(getpid()))")
        }
        first.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: lockFile))
        let second = try DirectoryLock(directory: directory)
        second.release()
        second.release()
    }

    func testALockFileOfADeadJobIsTakenOver() throws {
        try Data("999999999\n".utf8).write(to: URL(fileURLWithPath: lockFile))
        let lock = try DirectoryLock(directory: directory)
        XCTAssertEqual(try String(contentsOfFile: lockFile, encoding: .utf8), "\(getpid())\n")
        lock.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: lockFile))
    }

    func testAFolderThatCannotBeWrittenInIsRefused() throws {
        let missing = directory + "/missing"
        XCTAssertThrowsError(try DirectoryLock(directory: missing)) { error in
            XCTAssertEqual("\(error)", "\(missing): cannot write in the output directory: No such file or directory")
        }
    }

    func testDirectoryCreationReturnsWhatItMadeAndRemovesOnlyEmptyOnes() throws {
        let made = try DirectoryCreation.create(directory + "/a/b/c")
        XCTAssertEqual(made, [directory + "/a", directory + "/a/b", directory + "/a/b/c"])
        XCTAssertEqual(try DirectoryCreation.create(directory + "/a/b/c"), [])
        try Data().write(to: URL(fileURLWithPath: directory + "/a/kept"))
        DirectoryCreation.removeIfEmpty(made)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/a/b"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/a/kept"))
    }

    func testFileChecksumFollowsTheBytes() throws {
        let a = directory + "/a", b = directory + "/b"
        try Data("calibration".utf8).write(to: URL(fileURLWithPath: a))
        try Data("calibratioN".utf8).write(to: URL(fileURLWithPath: b))
        XCTAssertEqual(try FileChecksum.hex(of: a).count, 16)
        XCTAssertEqual(try FileChecksum.hex(of: a), try FileChecksum.hex(of: a))
        XCTAssertNotEqual(try FileChecksum.hex(of: a), try FileChecksum.hex(of: b))
        // Bytes moved between positions change it too.
        try Data("calibratoin".utf8).write(to: URL(fileURLWithPath: b))
        XCTAssertNotEqual(try FileChecksum.hex(of: a), try FileChecksum.hex(of: b))
        XCTAssertThrowsError(try FileChecksum.hex(of: directory + "/none"))
    }
}
