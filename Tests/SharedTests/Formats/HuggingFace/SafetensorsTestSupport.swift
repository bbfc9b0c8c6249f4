import Foundation
import XCTest
@testable import Shared

/// Helpers shared by the safetensors, config.json and model directory tests (namespaced to stay clear of others').
enum SafetensorsTestSupport {
    /// A fresh directory under NSTemporaryDirectory(); the caller removes it (see `removeAfter`).
    static func temporaryDirectory(_ testCase: XCTestCase) throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("mop-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Asserts that `body` throws a MopError whose description names `path` and contains `phrase`.
    static func assertMopError<T>(_ body: @autoclosure () throws -> T, path: String, phrase: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        // The suite-wide assertion, with an autoclosure for these tests' call sites.
        SharedTests.assertMopError(path, phrase, file: file, line: line, body)
    }

    /// A safetensors file assembled byte by byte, independent of the writer: `declaredLength` overrides the
    /// 8-byte header length so it can lie.
    static func rawFile(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> Data {
        let headerBytes = Array(header.utf8)
        var file = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: headerBytes)
        file.append(contentsOf: data)
        return file
    }

    /// A tiny model config: `layers` as (heads, kvHeads, intermediate).
    static func config(layers: [(Int, Int, Int)], tied: Bool, vocab: Int = 32, hidden: Int = 16, headDim: Int = 4) -> ModelConfig {
        ModelConfig(vocabSize: vocab, hidden: hidden, headDim: headDim,
                    layers: layers.map { LayerShape(heads: $0.0, kvHeads: $0.1, intermediate: $0.2) },
                    rmsNormEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: tied, maxPositions: 128)
    }
}
