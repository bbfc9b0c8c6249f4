import Foundation
import Shared

/// Which paths a beam keeps, and which one wins. Every order here is total and independent of where the paths came
/// from: by value, then by path string with L before G (the greedy search takes the depth step on a tie), so a run
/// never depends on dictionary order or timing.
enum BeamSelection {
    /// The best `width` paths of `pool` by score, one per structure: a structure reached by several paths keeps the
    /// first of them in that order. Also returns how many paths were dropped as duplicates.
    static func keep(_ pool: [BeamPath], width: Int) -> (kept: [BeamPath], duplicates: Int) {
        var kept: [BeamPath] = []
        var duplicates = 0
        for path in pool.sorted(by: { precedes($0, $1, by: \.score) }) {
            if kept.contains(where: { sameModel($0.structure, path.structure) }) {
                duplicates += 1
            } else if kept.count < width {
                kept.append(path)
            }
        }
        return (kept, duplicates)
    }

    /// The path with the best objective: the search's result once every kept path is finished.
    static func winner(_ paths: [BeamPath]) -> BeamPath? {
        paths.min { precedes($0, $1, by: \.objective) }
    }

    /// True when `a` comes before `b`: the lower value (a missing one last), then the path string with L before G.
    static func precedes(_ a: BeamPath, _ b: BeamPath, by value: (BeamPath) -> Double?) -> Bool {
        let x = value(a) ?? .infinity, y = value(b) ?? .infinity
        if x != y { return x < y }
        return a.structure.path.lexicographicallyPrecedes(b.structure.path) { stepRank($0) < stepRank($1) }
    }

    private static func stepRank(_ step: Character) -> Int { step == "L" ? 0 : 1 }

    /// The same pruned model, whatever the steps that led to it.
    private static func sameModel(_ a: PruningStructure, _ b: PruningStructure) -> Bool {
        a.originalLayers == b.originalLayers && a.layers == b.layers
    }
}
