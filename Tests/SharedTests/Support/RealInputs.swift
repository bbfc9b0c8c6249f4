import Foundation
import XCTest
@testable import Shared

/// The real inputs some tests read: SmolLM2 and Gemma-3-270m (fetched by scripts/fetch-model.sh), llama.cpp's tokenizer suite
/// (scripts/fetch-tokenizer-suite.sh) and ../shared/data.
/// Absent locally, those tests skip; on CI (CI=true) an absent input is a failure, since the test command fetches it.
enum RealInputs {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func smolLM2Path() throws -> String {
        let path = ProcessInfo.processInfo.environment["MOP_SMOLLM2_GGUF"]
            ?? packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        return try existing(path, hint: "scripts/fetch-model.sh fetches it; or set MOP_SMOLLM2_GGUF")
    }

    /// Gemma-3-270m (scripts/fetch-model.sh gemma3-270m), whose tokenizer is read; or MOP_GEMMA3_GGUF.
    static func gemma3Path() throws -> String {
        let path = ProcessInfo.processInfo.environment["MOP_GEMMA3_GGUF"]
            ?? packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
        return try existing(path, hint: "scripts/fetch-model.sh gemma3-270m fetches it; or set MOP_GEMMA3_GGUF")
    }

    /// llama.cpp's tokenizer test suite (vocab-only GGUFs with .inp/.out pairs), fetched by
    /// scripts/fetch-tokenizer-suite.sh into models/tokenizer-suite, or MOP_TOKENIZER_SUITE.
    static func tokenizerSuite() throws -> String {
        let path = ProcessInfo.processInfo.environment["MOP_TOKENIZER_SUITE"]
            ?? packageRoot.appendingPathComponent("models/tokenizer-suite").path
        return try existing(path, hint: "scripts/fetch-tokenizer-suite.sh fetches it; or set MOP_TOKENIZER_SUITE")
    }

    /// A committed fixture under Tests/SharedTests/Fixtures (made by the scripts/make-*-fixture.py scripts).
    static func fixture(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/SharedTests/Fixtures").appendingPathComponent(name)
    }

    /// A file under ../shared/data (or MOP_SHARED_DATA).
    static func sharedData(_ relative: String) throws -> String {
        let root = ProcessInfo.processInfo.environment["MOP_SHARED_DATA"]
            ?? packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data").path
        return try existing(root + "/" + relative, hint: "set MOP_SHARED_DATA to the shared data folder")
    }

    private static func existing(_ path: String, hint: String) throws -> String {
        if FileManager.default.fileExists(atPath: path) { return path }
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("\(path) is absent on CI (\(hint))") }
        throw XCTSkip("\(path) is absent (\(hint))")
    }
}

/// SmolLM2's tokenizer spec, read from its GGUF.
func smolLM2TokenizerSpec() throws -> TokenizerSpec {
    try XCTUnwrap(GGUFTokenizer.read(from: GGUFFile(path: RealInputs.smolLM2Path())))
}
