/// Sizes computed from numbers a file states (dimensions, element counts, byte counts, offsets). A hostile file can
/// state numbers whose product or sum overflows `Int`, which Swift traps on; every such computation goes through here
/// and comes back nil instead, so the caller can say which number is too large.
public enum CheckedSize {
    /// The product of non-negative `factors`, or nil when one is negative or the product overflows.
    public static func product(_ factors: some Sequence<Int>) -> Int? {
        var result = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow else { return nil }
            result = next
        }
        return result
    }

    /// The sum of non-negative `terms`, or nil when one is negative or the sum overflows.
    public static func sum(_ terms: some Sequence<Int>) -> Int? {
        var result = 0
        for term in terms {
            guard term >= 0 else { return nil }
            let (next, overflow) = result.addingReportingOverflow(term)
            guard !overflow else { return nil }
            result = next
        }
        return result
    }

    /// `offset` rounded up to a multiple of `alignment` (positive), or nil on overflow.
    public static func aligned(_ offset: Int, to alignment: Int) -> Int? {
        guard offset >= 0, alignment > 0 else { return nil }
        let padding = (alignment - offset % alignment) % alignment
        let (result, overflow) = offset.addingReportingOverflow(padding)
        return overflow ? nil : result
    }
}
