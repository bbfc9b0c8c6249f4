import Foundation
import Shared

/// Scores a step by what it opens, not only by what it costs now: the objective reached by `steps` further greedy
/// steps from it (fewer when the target is met first). The candidates are followed in lockstep, so each greedy step
/// of all of them is one batch of independent questions, like the candidates themselves.
struct Lookahead {
    let steps: Int
    let expander: PathExpander

    /// Sets every candidate's `lookahead`.
    func score(_ expansions: inout [PathExpansion]) throws {
        let slots = expansions.candidateSlots
        var paths = try slots.map { e, c in
            try expansions[e].child(expansions[e].candidates[c], random: expansions[e].random,
                                    goal: expander.goal, selection: expander.settings.selection)
        }
        for _ in 0..<steps {
            let open = paths.indices.filter { !expander.isFinished(paths[$0]) }
            guard !open.isEmpty else { break }
            for (index, expansion) in zip(open, try expander.expand(open.map { paths[$0] })) {
                let children = try expansion.children(goal: expander.goal, selection: expander.settings.selection)
                paths[index] = BeamSelection.keep(children, width: 1).kept[0]
            }
        }
        for ((e, c), path) in zip(slots, paths) { expansions[e].candidates[c].lookahead = path.objective }
    }
}
