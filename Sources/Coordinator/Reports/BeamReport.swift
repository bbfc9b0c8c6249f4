import Foundation

/// report.md's account of a beam search: the paths kept at every iteration, and why the winner won.
enum BeamReport {
    /// The section's lines; `winner` is the path the search returned.
    static func markdown(_ iterations: [BeamIteration], winner: String) -> [String] {
        var lines = [
            "## Beam", "",
            "Kept paths, best first, with their calibration objective (and the lookahead score they were ranked by, "
                + "where it differs); a finished path meets the target and takes no more steps.", "",
            "| iteration | candidates | duplicates | kept paths |",
            "|---:|---:|---:|---|",
        ]
        for iteration in iterations {
            let kept = iteration.kept.map(describe).joined(separator: ", ")
            lines.append("| \(iteration.iteration) | \(iteration.candidates) | \(iteration.duplicates) | \(kept) |")
        }
        let finalists = (iterations.last?.kept ?? []).filter(\.finished)
        guard let best = finalists.first(where: { $0.path == winner }) else { return lines }
        let others = finalists.filter { $0.path != winner }.map { "`\($0.path)` \(value($0.objective))" }
        lines += ["", "- winner: `\(winner)`, objective \(value(best.objective))"
                  + (others.isEmpty ? ", the only finished path" : ", lowest of the finished paths (others: "
                     + others.joined(separator: ", ") + ")")]
        return lines
    }

    private static func describe(_ path: BeamIteration.KeptPath) -> String {
        var text = "`\(path.path)` \(value(path.objective))"
        if path.score != path.objective { text += " (score \(value(path.score)))" }
        return text + (path.finished ? " finished" : "")
    }

    private static func value(_ number: Double?) -> String { number.map { String(format: "%.4f", $0) } ?? "-" }
}
