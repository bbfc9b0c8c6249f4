import XCTest
@testable import Shared

final class ZeroShotTaskDataTests: XCTestCase {
    /// One row per task in the stored format (MANIFEST), and the (context, continuation) pairs
    /// docs/design.md#zero-shot-tasks prescribes.
    func testEveryTaskBuildsLmEvalRequests() throws {
        let cases: [(ZeroShotTask, String, [(String, String)], Int)] = [
            (.piqa, #"{"query": "Question: Open a jar\n", "choices": ["twist the lid", "hit it"], "gold": 0}"#,
             [("Question: Open a jar\nAnswer:", " twist the lid"), ("Question: Open a jar\nAnswer:", " hit it")], 0),
            (.arcEasy, #"{"query": "Question: Which is a gas?", "choices": ["ice", "steam", "rock"], "gold": 1}"#,
             [("Question: Which is a gas?\nAnswer:", " ice"), ("Question: Which is a gas?\nAnswer:", " steam"),
              ("Question: Which is a gas?\nAnswer:", " rock")], 1),
            (.arcChallenge, #"{"query": "Question: Pick", "choices": ["a", "b", "c", "d", "e"], "gold": 4}"#,
             ["a", "b", "c", "d", "e"].map { ("Question: Pick\nAnswer:", " " + $0) }, 4),
            (.openbookqa, #"{"query": "Fog is likely around", "choices": ["a marsh", "a desert"], "gold": 0}"#,
             [("Fog is likely around", " a marsh"), ("Fog is likely around", " a desert")], 0),
            (.hellaswag, #"{"query": "Roofing: A man is on a roof. he", "choices": ["sits.", "jumps."], "gold": 1}"#,
             [("Roofing: A man is on a roof. he", " sits."), ("Roofing: A man is on a roof. he", " jumps.")], 1),
            (.boolq, #"{"query": "Passage: Sky is blue.\nQuestion: is the sky blue?", "choices": ["no", "yes"], "gold": 1}"#,
             [("Passage: Sky is blue.\nQuestion: is the sky blue?\nAnswer:", " no"),
              ("Passage: Sky is blue.\nQuestion: is the sky blue?\nAnswer:", " yes")], 1),
            (.winogrande, #"{"context_options": ["Sarah beat Maria so Sarah", "Sarah beat Maria so Maria"], "continuation": "lost.", "gold": 1}"#,
             [("Sarah beat Maria so Sarah", " lost."), ("Sarah beat Maria so Maria", " lost.")], 1),
        ]
        for (task, row, expected, gold) in cases {
            let example = try XCTUnwrap(TaskData.parse(row + "\n", task: task, file: "t.jsonl").first)
            XCTAssertEqual(example.requests.map(\.context), expected.map(\.0), task.rawValue)
            XCTAssertEqual(example.requests.map(\.continuation), expected.map(\.1), task.rawValue)
            XCTAssertEqual(example.gold, gold, task.rawValue)
            XCTAssertEqual(example.source, "t.jsonl:1")
            // acc_norm divides by the choice's characters without the " " delimiter (lm-eval's len(choice)).
            XCTAssertEqual(example.requests.map(\.normalizationLength), expected.map { $0.1.count - 1 }, task.rawValue)
        }
    }

    func testLoadReadsTheTaskFileAndHonoursTheLimit() throws {
        let folder = NSTemporaryDirectory() + "mop-tasks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let rows = (0..<5).map { #"{"query": "q\#($0)", "choices": ["a", "bé"], "gold": \#($0 % 2)}"# }
        try (rows.joined(separator: "\n") + "\n\n").write(toFile: folder + "/openbookqa.jsonl", atomically: true, encoding: .utf8)
        let all = try TaskData.load(.openbookqa, directory: folder)
        XCTAssertEqual(all.map(\.gold), [0, 1, 0, 1, 0])
        XCTAssertEqual(all[1].requests[1].normalizationLength, 2)  // characters, not UTF-8 bytes
        XCTAssertEqual(try TaskData.load(.openbookqa, directory: folder, limit: 2).map(\.requests.first?.context), ["q0", "q1"])
        XCTAssertThrowsError(try TaskData.load(.piqa, directory: folder)) { error in
            XCTAssertTrue("\(error)".contains(folder + "/piqa.jsonl"), "\(error)")
        }
        XCTAssertThrowsError(try ZeroShotTask.named("mmlu")) { XCTAssertTrue("\($0)".contains("arc_easy"), "\($0)") }
    }

    /// Each malformed row (on line 2, after a good row) is an error naming the file, the line and the problem.
    func testMalformedRowsNameFileAndLine() {
        let good = #"{"query": "q", "choices": ["a", "b"], "gold": 0}"#
        let cases: [(ZeroShotTask, String, String)] = [
            (.piqa, "{not json", "not valid JSON"),
            (.piqa, #"["query"]"#, "not a JSON object"),
            (.piqa, #"{"query": "q", "choices": ["a", "b"]}"#, "gold is missing"),
            (.piqa, #"{"query": "q", "choices": ["a", "b"], "gold": 2}"#, "out of range"),
            (.piqa, #"{"query": "q", "choices": ["a", "b"], "gold": -1}"#, "out of range"),
            (.piqa, #"{"query": "q", "choices": ["a", "b"], "gold": "0"}"#, "must be an integer"),
            (.piqa, #"{"query": "q", "choices": ["a", "b"], "gold": 0.5}"#, "must be an integer"),
            (.piqa, #"{"query": "q", "choices": [], "gold": 0}"#, "choices is empty"),
            (.piqa, #"{"query": "q", "choices": ["a", ""], "gold": 0}"#, "empty string"),
            (.piqa, #"{"query": "q", "choices": "ab", "gold": 0}"#, "array of strings"),
            (.piqa, #"{"query": "q", "choices": ["a", 3], "gold": 0}"#, "array of strings"),
            (.piqa, #"{"query": 7, "choices": ["a", "b"], "gold": 0}"#, "query must be a string"),
            (.piqa, #"{"choices": ["a", "b"], "gold": 0}"#, "query is missing"),
            (.boolq, #"{"query": "q", "choices": ["yes", "no"], "gold": 0}"#, "BoolQ choices"),
            (.winogrande, #"{"context_options": ["a", "b"], "gold": 0}"#, "continuation is missing"),
            (.winogrande, #"{"context_options": "a", "continuation": "c", "gold": 0}"#, "array of strings"),
        ]
        for (task, bad, problem) in cases {
            let first = task == .winogrande ? #"{"context_options": ["a", "b"], "continuation": "c", "gold": 0}"#
                : task == .boolq ? #"{"query": "q", "choices": ["no", "yes"], "gold": 0}"# : good
            XCTAssertThrowsError(try TaskData.parse(first + "\n" + bad + "\n", task: task, file: "/data/x.jsonl")) { error in
                XCTAssertTrue(error is MopError, bad)
                XCTAssertTrue("\(error)".hasPrefix("/data/x.jsonl:2:"), "\(error)")
                XCTAssertTrue("\(error)".contains(problem), "\(error) should say \(problem)")
            }
        }
        XCTAssertThrowsError(try TaskData.parse("\n\n", task: .piqa, file: "/data/x.jsonl")) {
            XCTAssertEqual("\($0)", "/data/x.jsonl: no examples")
        }
    }
}
