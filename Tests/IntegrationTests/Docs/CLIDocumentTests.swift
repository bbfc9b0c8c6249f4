import Foundation
import XCTest

/// docs/cli.md documents every command and option of `mop`; this keeps it in step with the argument parser. The
/// parser's own description (`mop --experimental-dump-help`, swift-argument-parser's JSON of every command) is
/// compared with the document's sections (`## mop NAME`, or `### mop NAME` under `## Hidden commands`) and the first
/// cells of their option tables (`` `--seq-len` ``, `` `--x` / `--no-x` ``, `` `MODEL` `` for a positional argument).
final class CLIDocumentTests: XCTestCase {
    static let documentPath = "docs/cli.md"

    /// One argument of one command as the parser describes it.
    struct ParsedArgument {
        /// The names a table row gives: `--long` (or `-long`, `-s` when there is no long name), or `VALUE` positional.
        let names: Set<String>
        let hidden: Bool
    }

    /// A command of the parser: its path below `mop` ("prune", "" for `mop` itself), and its arguments.
    struct ParsedCommand {
        let path: String
        let hidden: Bool
        let arguments: [ParsedArgument]
        var names: Set<String> { arguments.reduce(into: Set<String>()) { $0.formUnion($1.names) } }
    }

    /// A command section of the document and the names in the first cells of its table rows.
    struct DocumentedCommand {
        let path: String
        let line: Int
        var underHiddenCommands: Bool
        var rows: [(names: Set<String>, text: String, line: Int)] = []
        var names: Set<String> { rows.reduce(into: Set<String>()) { $0.formUnion($1.names) } }
    }

    // MARK: - The parser

    func parserCommands() throws -> [ParsedCommand] {
        let run = try MopProcess.run(["--experimental-dump-help"], timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        let root = try XCTUnwrap(run.json?["command"] as? [String: Any], "mop --experimental-dump-help: no command in \(run.stdout.prefix(200))")
        var commands: [ParsedCommand] = []
        func walk(_ command: [String: Any], path: [String], hiddenAbove: Bool) throws {
            let hidden = hiddenAbove || (command["shouldDisplay"] as? Bool) == false
            let arguments = try (command["arguments"] as? [[String: Any]] ?? []).map(Self.argument)
                .filter { !$0.names.isEmpty }
            commands.append(ParsedCommand(path: path.joined(separator: " "), hidden: hidden, arguments: arguments))
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                let name = try XCTUnwrap(sub["commandName"] as? String, "a subcommand without a name under mop \(path)")
                try walk(sub, path: path + [name], hiddenAbove: hidden)
            }
        }
        try walk(root, path: [], hiddenAbove: false)
        return commands
    }

    static func argument(_ entry: [String: Any]) throws -> ParsedArgument {
        let hidden = (entry["shouldDisplay"] as? Bool) == false
        if entry["kind"] as? String == "positional" {
            let value = try XCTUnwrap(entry["valueName"] as? String, "a positional argument without a value name: \(entry)")
            return ParsedArgument(names: [value.uppercased()], hidden: hidden)
        }
        let names = (entry["names"] as? [[String: Any]] ?? []).compactMap { name -> (kind: String, name: String)? in
            guard let kind = name["kind"] as? String, let text = name["name"] as? String else { return nil }
            return (kind, text)
        }
        var long = Set(names.compactMap { name -> String? in
            switch name.kind {
            case "long": return "--" + name.name
            case "longWithSingleDash": return "-" + name.name
            default: return nil
            }
        })
        // An argument with no long name is documented by its short one.
        if long.isEmpty { long = Set(names.filter { $0.kind == "short" }.map { "-" + $0.name }) }
        return ParsedArgument(names: long, hidden: hidden)
    }

    // MARK: - The document

    func documentedCommands() throws -> [DocumentedCommand] {
        let url = RealInputs.packageRoot.appendingPathComponent(Self.documentPath)
        let text = try String(contentsOf: url, encoding: .utf8)
        var commands: [DocumentedCommand] = []
        var current: DocumentedCommand?
        var inHiddenCommands = false, inCodeBlock = false
        for (index, raw) in text.components(separatedBy: "\n").enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") { inCodeBlock.toggle(); continue }
            if inCodeBlock { continue }
            if line.hasPrefix("#") {
                if let command = current { commands.append(command) }
                current = nil
                let level = line.prefix { $0 == "#" }.count
                let title = line.dropFirst(level).trimmingCharacters(in: .whitespaces)
                if level <= 2 { inHiddenCommands = title == "Hidden commands" }
                if level == 2 || level == 3, title == "mop" || title.hasPrefix("mop ") {
                    let path = title.dropFirst(3).trimmingCharacters(in: .whitespaces)
                    current = DocumentedCommand(path: path, line: index + 1, underHiddenCommands: inHiddenCommands)
                }
                continue
            }
            guard current != nil, line.hasPrefix("|") else { continue }
            let cells = line.dropFirst().split(separator: "|", omittingEmptySubsequences: false)
            guard let first = cells.first else { continue }
            // The header and the separator row have no backticks in their first cell.
            let names = Self.quoted(String(first))
            if names.isEmpty { continue }
            current?.rows.append((names: names, text: line, line: index + 1))
        }
        if let command = current { commands.append(command) }
        return commands
    }

    /// The `quoted` parts of a table cell.
    static func quoted(_ cell: String) -> Set<String> {
        let parts = cell.components(separatedBy: "`")
        return Set(stride(from: 1, to: parts.count, by: 2).map { parts[$0].trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty })
    }

    // MARK: - Tests

    func testEveryOptionOfTheParserIsDocumentedAndNoOther() throws {
        let parsed = try parserCommands()
        let documented = try documentedCommands()
        let file = Self.documentPath
        // `mop`, its thirteen commands (hidden ones included) and the parser's `help`: a dump that lost them fails.
        XCTAssertGreaterThanOrEqual(parsed.count, 15, "mop --experimental-dump-help lists only \(parsed.map(\.path))")
        XCTAssertGreaterThan(parsed.reduce(0) { $0 + $1.arguments.count }, 100)
        XCTAssertGreaterThan(documented.count, 0, "\(file) has no `## mop NAME` section")

        var sections: [String: DocumentedCommand] = [:]
        for command in documented {
            if let earlier = sections[command.path] {
                XCTFail("\(file):\(command.line): a second section for `mop \(command.path)` (the first is at line \(earlier.line)); edit \(file)")
            }
            sections[command.path] = command
        }

        for command in parsed {
            let name = command.path.isEmpty ? "mop" : "mop " + command.path
            let heading = (command.hidden ? "### " : "## ") + name
            guard let section = sections[command.path] else {
                // `mop` itself takes no option but --help, which the introduction mentions.
                if command.path.isEmpty && command.names.isSubset(of: ["--help"]) { continue }
                XCTFail("`\(name)` has no section in \(file): add `\(heading)`"
                        + (command.hidden ? " under `## Hidden commands`" : "") + " with a row for each of "
                        + command.names.sorted().joined(separator: ", "))
                continue
            }
            XCTAssertEqual(section.underHiddenCommands, command.hidden,
                           "\(file):\(section.line): `\(name)` is \(command.hidden ? "hidden" : "shown") in the parser's help, "
                           + "so its section belongs \(command.hidden ? "under" : "outside") `## Hidden commands`; edit \(file)")
            for missing in command.names.subtracting(section.names).sorted() {
                XCTFail("`\(name)` has the option \(missing) but \(file) does not document it: add a row "
                        + "| `\(missing)` | ... | to the table under `\(heading)` (\(file):\(section.line))")
            }
            for extra in section.names.subtracting(command.names).sorted() {
                let row = section.rows.first { $0.names.contains(extra) }
                XCTFail("\(file):\(row?.line ?? section.line) documents \(extra) for `\(name)`, which the parser does not have: "
                        + "remove or rename that row of \(file) (or add the option to the command in Sources/mop)")
            }
            // One row per argument: a row names exactly the names of one argument (`--x` / `--no-x` are one).
            for row in section.rows where row.names.isSubset(of: command.names)
                && !command.arguments.contains(where: { $0.names == row.names }) {
                let arguments = command.arguments.filter { !$0.names.isDisjoint(with: row.names) }
                    .map { $0.names.sorted().joined(separator: " / ") }
                XCTFail("\(file):\(row.line): the row \(row.names.sorted().joined(separator: " / ")) of `\(name)` should "
                        + "name exactly the names of one argument (the parser has \(arguments.joined(separator: "; "))); edit \(file)")
            }
            for argument in command.arguments where argument.hidden {
                for row in section.rows where row.names == argument.names && !row.text.contains("(hidden)") {
                    XCTFail("\(file):\(row.line): \(argument.names.sorted().joined(separator: " / ")) of `\(name)` is hidden "
                            + "from the parser's help: mark its row \"(hidden)\" in \(file)")
                }
            }
            let counts = Dictionary(section.rows.flatMap(\.names).map { ($0, 1) }, uniquingKeysWith: +)
            for (option, count) in counts where count > 1 {
                XCTFail("\(file): `\(name)` documents \(option) in \(count) rows; keep one")
            }
        }

        let known = Set(parsed.map(\.path))
        for section in documented where !known.contains(section.path) {
            XCTFail("\(file):\(section.line): a section for `mop \(section.path)`, which the parser does not have: "
                    + "remove it from \(file) (or rename it to the command's name)")
        }
    }
}
