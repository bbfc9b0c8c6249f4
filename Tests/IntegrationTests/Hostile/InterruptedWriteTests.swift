import Foundation
import XCTest
@testable import Shared

/// Issue 13 case 19: a SIGTERM while mop writes its exports ends the process with 143 (128 + SIGTERM) and leaves no
/// partial file behind (`NAME.partial-PID`); a file under its final name is complete.
final class InterruptedWriteTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-sigterm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    private static func files(under root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
    }

    func testSIGTERMWhileWritingRemovesThePartialFiles() throws {
        let model = try RealInputs.smolLM2()
        // The whole SmolLM2 (identity structure): 540 MB of F32 safetensors and as much GGUF, a second or more of
        // writing, so the partial file is there to be seen.
        let config = try GGUFModel.config(of: GGUFFile(path: model))
        let structurePath = directory + "/structure.json"
        try PruningStructure.identity(config).write(to: structurePath)
        let out = directory + "/out"

        nonisolated(unsafe) var seenPartial: String?
        let output = try MopProcess.launch(MopProcess.binary, ["apply", model, "--structure", structurePath, "--out", out,
                                                               "--format", "both"], timeout: 120, environment: [:]) { process in
            let deadline = Date().addingTimeInterval(100)
            while process.isRunning, Date() < deadline {
                if let partial = Self.files(under: out).first(where: { $0.contains(TemporaryFiles.marker) }) {
                    seenPartial = partial
                    process.terminate()
                    return
                }
                usleep(2000)
            }
        }
        let partial = try XCTUnwrap(seenPartial, "no partial file was seen while mop apply wrote (status \(output.status))")
        XCTAssertEqual(output.status, 128 + SIGTERM, "\(partial): \(output.stderr)")
        let left = Self.files(under: out)
        XCTAssertFalse(left.contains { $0.contains(TemporaryFiles.marker) }, "left behind: \(left)")
        // A file under its final name is complete (one finished before the signal came): it reads back.
        for name in left where name.hasSuffix(".safetensors") { XCTAssertNoThrow(try SafetensorsFile(path: out + "/" + name), name) }
        for name in left where name.hasSuffix(".gguf") { XCTAssertNoThrow(try GGUFFile(path: out + "/" + name), name) }
    }
}
