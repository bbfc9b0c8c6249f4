import Foundation
import Shared

/// Scores a step by what it opens, not only by what it costs now: the objective reached by `steps` further greedy
/// steps from it (fewer when the target is met first). Each candidate's steps are its own, so the candidates of an
/// iteration can be followed independently.
struct Lookahead {
    let steps: Int
    let expander: PathExpander

    /// Sets every candidate's `lookahead`.
    func score(_ expansions: inout [PathExpansion]) throws {
        for e in expansions.indices {
            let expansion = expansions[e]
            for (c, candidate) in expansion.candidates.enumerated() {
                let path = try expansion.child(candidate, random: expansion.random, original: expander.original,
                                               selection: expander.settings.selection)
                expansions[e].candidates[c].lookahead = try objective(after: path)
            }
        }
    }

    /// The objective after up to `steps` greedy steps from `path`.
    private func objective(after path: BeamPath) throws -> Double? {
        var path = path
        for _ in 0..<steps where !expander.isFinished(path) {
            let children = try expander.expand([path])[0].children(original: expander.original,
                                                                   selection: expander.settings.selection)
            path = BeamSelection.keep(children, width: 1).kept[0]
        }
        return path.objective
    }
}
