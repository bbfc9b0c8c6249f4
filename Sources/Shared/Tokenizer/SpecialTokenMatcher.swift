/// Finds special tokens written in text, as Hugging Face matches added tokens: scanning left to right, the longest
/// special token starting at each position. Tokenizers encode the stretches between them with their model.
struct SpecialTokenMatcher: Sendable {
    private struct Candidate: Sendable {
        let scalars: [Unicode.Scalar]
        let id: Int32
    }

    /// Candidates grouped by first scalar, longest first.
    private let byFirstScalar: [Unicode.Scalar: [Candidate]]

    /// A matcher for `ids` of `vocabulary`; `file` names the source in errors (an empty special token).
    init(ids: [Int32], vocabulary: [String], file: String?) throws {
        var groups: [Unicode.Scalar: [Candidate]] = [:]
        for id in ids {
            let scalars = Array(vocabulary[Int(id)].unicodeScalars)
            guard let first = scalars.first else { throw MopError(file: file, "special token \(id) is empty") }
            groups[first, default: []].append(Candidate(scalars: scalars, id: id))
        }
        for key in groups.keys { groups[key]?.sort { $0.scalars.count > $1.scalars.count } }
        byFirstScalar = groups
    }

    /// Walks `scalars` in order, calling `text` for each non-empty stretch between special tokens and `special` for
    /// each special token.
    func split(_ scalars: [Unicode.Scalar], text: (Range<Int>) -> Void, special: (Int32) -> Void) {
        var start = 0
        var i = 0
        while i < scalars.count {
            if let candidate = match(scalars, at: i) {
                if start < i { text(start..<i) }
                special(candidate.id)
                i += candidate.scalars.count
                start = i
            } else {
                i += 1
            }
        }
        if start < scalars.count { text(start..<scalars.count) }
    }

    private func match(_ scalars: [Unicode.Scalar], at i: Int) -> Candidate? {
        guard let candidates = byFirstScalar[scalars[i]] else { return nil }
        return candidates.first { i + $0.scalars.count <= scalars.count
            && scalars[i..<(i + $0.scalars.count)].elementsEqual($0.scalars) }
    }
}
