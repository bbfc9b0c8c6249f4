/// The candidate merges of SentencePiece encoding, highest score first and, among equal scores, the leftmost first
/// (llama.cpp's `llm_bigram_spm` comparator). A binary max-heap: the whole text between special tokens is one merge
/// run, so a linear scan per merge would be quadratic.
struct PairQueue {
    struct Pair {
        /// Symbol indices of the two sides when the pair was queued.
        let left: Int
        let right: Int
        /// Bytes of the merged piece: a pair whose sides have changed since no longer adds up to it.
        let size: Int
        let score: Float
    }

    private var heap: [Pair] = []

    mutating func push(_ pair: Pair) {
        heap.append(pair)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// The first pair in order, removed; nil when empty.
    mutating func pop() -> Pair? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return top }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < heap.count, Self.before(heap[left], heap[first]) { first = left }
            if right < heap.count, Self.before(heap[right], heap[first]) { first = right }
            guard first != parent else { return top }
            heap.swapAt(parent, first)
            parent = first
        }
    }

    /// Whether `a` comes out before `b`.
    private static func before(_ a: Pair, _ b: Pair) -> Bool {
        a.score > b.score || (a.score == b.score && a.left < b.left)
    }
}
