/// Splits work items over ranks so that each rank gets a contiguous run of items with about the same total cost
/// (tokens, not rows: a rank holding the long sequences would otherwise make every other rank wait).
/// Contiguous runs keep the float64 partial sums in a fixed order, so results do not depend on scheduling.
public enum Sharding {
    /// The index range of `costs` that `rank` of `size` works on. Every rank gets a range (possibly empty);
    /// the ranges are disjoint, ordered, and cover every item.
    public static func range(costs: [Int], rank: Int, size: Int) -> Range<Int> {
        precondition(size > 0 && rank >= 0 && rank < size)
        let total = costs.reduce(0, +)
        // Boundary b is the first item whose cumulative cost start reaches b/size of the total.
        func boundary(_ b: Int) -> Int {
            if b == 0 { return 0 }
            if b == size { return costs.count }
            let goal = Double(total) * Double(b) / Double(size)
            var cumulative = 0
            for (index, cost) in costs.enumerated() {
                // Give the item to whichever side of the goal its midpoint lies on.
                if Double(cumulative) + Double(cost) / 2 >= goal { return index }
                cumulative += cost
            }
            return costs.count
        }
        return boundary(rank)..<max(boundary(rank), boundary(rank + 1))
    }

    /// As `range(costs:rank:size:)`, except that with a `dedicatedCoordinator` rank 0 only coordinates: it gets no
    /// items and ranks 1..<size split them all.
    public static func range(costs: [Int], rank: Int, size: Int, dedicatedCoordinator: Bool) -> Range<Int> {
        guard dedicatedCoordinator else { return range(costs: costs, rank: rank, size: size) }
        precondition(size > 1, "a dedicated coordinator needs at least one other rank")
        return rank == 0 ? 0..<0 : range(costs: costs, rank: rank - 1, size: size - 1)
    }
}
