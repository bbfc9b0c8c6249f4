import Foundation
import XCTest
import Shared
@testable import Coordinator

/// OutputDirectory.claim: made when missing, locked for the job, the lock file not counted as content, and on
/// release the folders it made removed when still empty.
final class OutputDirectoryTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-outdir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testAClaimHoldsTheFolderAndAFailedJobLeavesNoFolderItMade() throws {
        let out = directory + "/runs/x"
        let claim = try OutputDirectory.claim(out, resuming: false)
        XCTAssertEqual(claim.path, out)
        XCTAssertThrowsError(try OutputDirectory.claim(out, resuming: false)) { error in
            XCTAssertEqual("\(error)", "\(out): in use by another mop job (pid \(getpid()))")
        }
        claim.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/runs"), "the folders it made and left empty are gone")
    }

    func testAFinishedJobKeepsItsFilesAndNoLockFile() throws {
        let out = directory + "/out"
        let claim = try OutputDirectory.claim(out, resuming: false)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: out + "/report.json"))
        claim.release()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), ["report.json"])
    }

    func testAFolderThatWasThereIsNeverRemovedAndOtherContentIsRefused() throws {
        let empty = directory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try OutputDirectory.claim(empty, resuming: false).release()
        XCTAssertTrue(FileManager.default.fileExists(atPath: empty))
        try Data().write(to: URL(fileURLWithPath: empty + "/other"))
        XCTAssertThrowsError(try OutputDirectory.claim(empty, resuming: false)) { error in
            XCTAssertTrue("\(error)".contains("already holds 1 entries (other)"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty), ["other"], "no lock file left by the refusal")
    }

    func testResumingNeedsACheckpointAndTheLock() throws {
        XCTAssertThrowsError(try OutputDirectory.claim(directory + "/none", resuming: true)) { error in
            XCTAssertTrue("\(error)".contains("nothing to resume"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/none"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: directory + "/" + SearchCheckpoint.fileName))
        let held = try DirectoryLock(directory: directory)
        XCTAssertThrowsError(try OutputDirectory.claim(directory, resuming: true)) { error in
            XCTAssertTrue("\(error)".contains("in use by another mop job"), "\(error)")
        }
        held.release()
        try OutputDirectory.claim(directory, resuming: true).release()
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/" + SearchCheckpoint.fileName))
    }
}
