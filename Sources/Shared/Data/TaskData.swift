import Foundation

/// The zero-shot multiple-choice tasks of docs/design.md#zero-shot-tasks, named as their files in the tasks folder are
/// (`piqa.jsonl`, ...).
public enum ZeroShotTask: String, CaseIterable, Sendable {
    case piqa
    case arcEasy = "arc_easy"
    case arcChallenge = "arc_challenge"
    case hellaswag
    case winogrande
    case boolq
    case openbookqa

    /// The task named `name`, or an error listing the known names.
    public static func named(_ name: String) throws -> ZeroShotTask {
        guard let task = ZeroShotTask(rawValue: name) else {
            throw MopError("unknown task '\(name)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return task
    }
}

/// One log-likelihood request: score `continuation` after `context`.
public struct ZeroShotRequest: Equatable, Sendable {
    public let context: String
    public let continuation: String
    /// Characters acc_norm divides by: lm-eval takes `len(choice)`, the choice text without the " " delimiter.
    public let normalizationLength: Int

    public init(context: String, continuation: String, normalizationLength: Int) {
        self.context = context
        self.continuation = continuation
        self.normalizationLength = normalizationLength
    }
}

/// One multiple-choice example: a request per choice and the index of the right one.
public struct ZeroShotExample: Equatable, Sendable {
    public let requests: [ZeroShotRequest]
    public let gold: Int
    /// `file:line`, for messages about this example.
    public let source: String
}

/// Reads the task JSONL files (`{"query", "choices", "gold"}` rows; WinoGrande `{"context_options", "continuation",
/// "gold"}`) and builds each example's requests exactly as docs/design.md#zero-shot-tasks (lm-evaluation-harness's task
/// templates) says.
public enum TaskData {
    /// The default tasks folder, relative to the working directory (the package root in a checkout).
    public static let defaultDirectory = "../shared/data/tasks"

    /// The examples of `task` read from `directory/<task>.jsonl`, the first `limit` of them when given.
    public static func load(_ task: ZeroShotTask, directory: String, limit: Int? = nil) throws -> [ZeroShotExample] {
        let path = (directory as NSString).appendingPathComponent(task.rawValue + ".jsonl")
        return try parse(TextFile.read(path), task: task, file: path, limit: limit)
    }

    /// Examples of JSONL `text`; every malformed row is an error naming `file` and the 1-based line. Blank lines are
    /// skipped (a trailing newline is not a row).
    public static func parse(_ text: String, task: ZeroShotTask, file: String, limit: Int? = nil) throws -> [ZeroShotExample] {
        var examples: [ZeroShotExample] = []
        for (index, line) in TextFile.lines(of: text).enumerated() {
            if let limit, examples.count >= limit { break }
            if line.allSatisfy(\.isWhitespace) { continue }
            let source = "\(file):\(index + 1)"
            let row = try JSONFields(data: Data(line.utf8), file: source)
            examples.append(try example(row, task: task, source: source))
        }
        guard !examples.isEmpty else { throw MopError(file: file, "no examples") }
        return examples
    }

    /// The requests of one row, per docs/design.md#zero-shot-tasks.
    static func example(_ row: JSONFields, task: ZeroShotTask, source: String) throws -> ZeroShotExample {
        if task == .winogrande {
            let contexts = try strings(row, "context_options", source: source)
            let continuation = try row.string("continuation")
            let gold = try row.int("gold", in: 0...(contexts.count - 1))
            let length = continuation.unicodeScalars.count
            return ZeroShotExample(requests: contexts.map {
                ZeroShotRequest(context: $0, continuation: " " + continuation, normalizationLength: length)
            }, gold: gold, source: source)
        }
        let query = try row.string("query")
        let choices = try strings(row, "choices", source: source)
        let gold = try row.int("gold", in: 0...(choices.count - 1))
        if task == .boolq && choices != ["no", "yes"] {
            throw MopError(file: source, "BoolQ choices must be [\"no\", \"yes\"], found \(choices)")
        }
        let context = switch task {
        case .piqa: query + "Answer:"
        case .arcEasy, .arcChallenge, .boolq: query + "\nAnswer:"
        case .openbookqa, .hellaswag, .winogrande: query
        }
        return ZeroShotExample(requests: choices.map {
            ZeroShotRequest(context: context, continuation: " " + $0, normalizationLength: $0.unicodeScalars.count)
        }, gold: gold, source: source)
    }

    /// A non-empty array of non-empty strings.
    static func strings(_ row: JSONFields, _ key: String, source: String) throws -> [String] {
        guard let value = row.object[key], !(value is NSNull) else { throw MopError(file: source, "key \(key) is missing") }
        guard let array = value as? [Any], let strings = array as? [String] else {
            throw MopError(file: source, "key \(key) must be an array of strings")
        }
        guard !strings.isEmpty else { throw MopError(file: source, "key \(key) is empty") }
        if strings.contains(where: \.isEmpty) { throw MopError(file: source, "key \(key) holds an empty string") }
        return strings
    }
}
