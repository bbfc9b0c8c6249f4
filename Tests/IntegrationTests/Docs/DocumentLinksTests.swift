import Foundation
import XCTest

/// The documents hold together: every relative link in README.md and docs/ reaches a file, and its anchor a heading
/// of that file; every `docs/NAME.md#anchor` the code cites names a section that exists; the code cites the design
/// inside the repository, never the outside spec; the README stays a five-minute read.
final class DocumentLinksTests: XCTestCase {
    private let root = RealInputs.packageRoot

    func testEveryRelativeLinkAndAnchorInTheDocumentsResolves() throws {
        let documents = try markdownFiles()
        XCTAssertTrue(documents.contains { $0.hasSuffix("/docs/design.md") }, "docs/design.md is missing")
        var checked = 0
        for document in documents {
            let text = try String(contentsOfFile: document, encoding: .utf8)
            for link in MarkdownText.links(in: text) {
                guard let problem = problem(of: link, in: document) else { checked += 1; continue }
                XCTFail("\(relative(document)): link \(link): \(problem)")
            }
        }
        XCTAssertGreaterThan(checked, 50, "the documents should link to each other and to the code")
    }

    func testDesignPointersInTheCodeNameExistingSections() throws {
        let pointer = try NSRegularExpression(pattern: #"docs/([A-Za-z0-9_/.-]+\.md)#([A-Za-z0-9_-]+)"#)
        var pointers = 0
        for file in try codeFiles() {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            for match in pointer.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let name = String(text[Range(match.range(at: 1), in: text)!])
                let anchor = String(text[Range(match.range(at: 2), in: text)!])
                let target = root.appendingPathComponent("docs").appendingPathComponent(name).path
                pointers += 1
                guard FileManager.default.fileExists(atPath: target) else {
                    XCTFail("\(relative(file)): docs/\(name) does not exist"); continue
                }
                let anchors = MarkdownText.anchors(in: try String(contentsOfFile: target, encoding: .utf8))
                XCTAssertTrue(anchors.contains(anchor), "\(relative(file)): docs/\(name) has no section #\(anchor)")
            }
        }
        XCTAssertGreaterThan(pointers, 20, "the code points to docs/design.md where it implements the contract")
    }

    func testTheCodeCitesNoSpecOutsideTheRepository() throws {
        let spec = try NSRegularExpression(pattern: #"\bSPEC\b|shared/design/SPEC"#)
        for file in try codeFiles() {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where spec.firstMatch(in: String(line), range: NSRange(line.startIndex..., in: line)) != nil {
                XCTFail("\(relative(file)):\(number + 1) cites the spec instead of docs/design.md: \(line)")
            }
        }
    }

    func testTheReadmeIsShort() throws {
        let lines = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).count
        XCTAssertLessThanOrEqual(lines, 200, "README.md has \(lines) lines: move detail to docs/")
    }

    /// The anchor rule the documents rely on, pinned to GitHub's.
    func testAnchorsFollowGitHub() {
        XCTAssertEqual(MarkdownText.anchors(in: "# mop\n## AMP width pruning\n## Q/K rows, `deci` and GGUF\n## AMP width pruning\n```sh\n# not a heading\n```"),
                       ["mop", "amp-width-pruning", "qk-rows-deci-and-gguf", "amp-width-pruning-1"])
        XCTAssertEqual(MarkdownText.links(in: "see [a](b.md#c), `[x](no.md)`, ![p](p.svg \"t\") and [w](https://x.org)\n```\n[y](no.md)\n```"),
                       ["b.md#c", "p.svg"])
    }

    // MARK: - Helpers

    /// Why `link` (relative, from `document`) does not resolve, or nil.
    private func problem(of link: String, in document: String) -> String? {
        let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let path = parts[0].removingPercentEncoding ?? parts[0]
        let target = path.isEmpty ? document
            : URL(fileURLWithPath: document).deletingLastPathComponent().appendingPathComponent(path).standardized.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else { return "no file \(target)" }
        guard !target.hasPrefix(root.path + "/.build"), target.hasPrefix(root.path) else { return "outside the repository" }
        guard parts.count == 2 else { return nil }
        guard !isDirectory.boolValue, target.hasSuffix(".md"),
              let text = try? String(contentsOfFile: target, encoding: .utf8) else { return "an anchor into a non-Markdown file" }
        return MarkdownText.anchors(in: text).contains(parts[1]) ? nil : "no heading with anchor #\(parts[1])"
    }

    private func markdownFiles() throws -> [String] {
        [root.appendingPathComponent("README.md").path] + (try files(under: "docs").filter { $0.hasSuffix(".md") })
    }

    private func codeFiles() throws -> [String] {
        try ["Sources", "Tests", "scripts", "cluster", ".ci"].flatMap { try files(under: $0) }
            .filter { !$0.contains("/Fixtures/") && !$0.hasSuffix("DocumentLinksTests.swift") }
    }

    private func files(under folder: String) throws -> [String] {
        let base = root.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return walker.compactMap { item -> String? in
            guard let url = item as? URL, (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { return nil }
            return url.path
        }.sorted()
    }

    private func relative(_ path: String) -> String { String(path.dropFirst(root.path.count + 1)) }
}

/// Just enough Markdown to find headings and links outside code.
enum MarkdownText {
    /// The lines outside fenced code blocks, with inline code spans removed.
    static func prose(_ text: String) -> [String] {
        var inFence = false
        return text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line in
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inFence.toggle(); return nil }
            return inFence ? nil : line.replacingOccurrences(of: #"`[^`]*`"#, with: "", options: .regularExpression)
        }
    }

    /// GitHub's heading anchors, in order: lower case, only letters, digits, spaces, hyphens and underscores kept,
    /// spaces to hyphens, repeats suffixed -1, -2, ...
    static func anchors(in text: String) -> [String] {
        var seen: [String: Int] = [:]
        var inFence = false
        var anchors: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inFence.toggle(); continue }
            guard !inFence, let title = heading(line) else { continue }
            let slug = String(title.lowercased().unicodeScalars.filter {
                CharacterSet.alphanumerics.contains($0) || $0 == " " || $0 == "-" || $0 == "_"
            }.map(Character.init)).replacingOccurrences(of: " ", with: "-")
            let count = seen[slug, default: 0]
            seen[slug] = count + 1
            anchors.append(count == 0 ? slug : "\(slug)-\(count)")
        }
        return anchors
    }

    /// Relative link targets (links and images) outside code; web and mail links are not checked here.
    static func links(in text: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: #"\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)"#)
        return prose(text).flatMap { line in
            pattern.matches(in: line, range: NSRange(line.startIndex..., in: line)).map { String(line[Range($0.range(at: 1), in: line)!]) }
        }.filter { !$0.contains("://") && !$0.hasPrefix("mailto:") }
    }

    private static func heading(_ line: Substring) -> String? {
        let hashes = line.prefix { $0 == "#" }.count
        guard (1...6).contains(hashes), line.dropFirst(hashes).first == " " else { return nil }
        return line.dropFirst(hashes + 1).trimmingCharacters(in: .whitespaces)
    }
}
