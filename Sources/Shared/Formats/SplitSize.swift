/// How large each file of a split export may grow (`--split-max-size`): tensors go to files in order, a new file
/// starting when the next tensor would take the current one past `maxBytes` of tensor data, as llama.cpp's
/// gguf-split cuts a GGUF (a tensor larger than the limit gets a file of its own; no file is empty).
public struct SplitSize: Sendable, Equatable {
    public let maxBytes: Int

    public init(maxBytes: Int) {
        precondition(maxBytes > 0, "a split size of \(maxBytes) bytes")
        self.maxBytes = maxBytes
    }

    /// `text` as gguf-split reads it: a positive whole number of M (10^6 bytes) or G (10^9 bytes), as in `2G`.
    public init?(parsing text: String) {
        guard let unit = text.last, let scale = ["M": 1_000_000, "G": 1_000_000_000][String(unit)],
              let count = Int(text.dropLast()), count > 0, count <= Int.max / scale else { return nil }
        self.init(maxBytes: count * scale)
    }

    /// The index ranges of the files `sizes` (tensor data bytes, in file order) go to: at least one range.
    public func parts(_ sizes: [Int]) -> [Range<Int>] {
        var parts: [Range<Int>] = [], start = 0, bytes = 0
        for (index, size) in sizes.enumerated() {
            if index > start && bytes + size > maxBytes {
                parts.append(start..<index)
                start = index
                bytes = 0
            }
            bytes += size
        }
        parts.append(start..<sizes.count)
        return parts
    }

    /// The index ranges of the files of an export written by pipeline stages: each owner's tensors (`owners`, one per
    /// tensor in file order, non-decreasing: a stage's tensors are consecutive) go to files of their own, cut further by
    /// `split` when given, so a stage writes only files of what it holds.
    public static func parts(_ sizes: [Int], owners: [Int], split: SplitSize?) -> [Range<Int>] {
        precondition(sizes.count == owners.count && zip(owners, owners.dropFirst()).allSatisfy { $0 <= $1 }, "owners out of file order")
        var parts: [Range<Int>] = [], start = 0
        while start < owners.count {
            let end = owners[start...].firstIndex { $0 != owners[start] } ?? owners.count
            parts += (split?.parts(Array(sizes[start..<end])) ?? [0..<(end - start)]).map { ($0.lowerBound + start)..<($0.upperBound + start) }
            start = end
        }
        return parts
    }

    /// The file name of part `index` (from 0) of `count` for a single file named `name` ending in `.extension`:
    /// `<stem>-0000k-of-0000n.<extension>`, the names llama.cpp (`llama_split_path`) and transformers give parts.
    public static func partName(_ name: String, extension: String, index: Int, of count: Int) -> String {
        let stem = name.hasSuffix("." + `extension`) ? String(name.dropLast(`extension`.count + 1)) : name
        return stem + "-" + fiveDigits(index + 1) + "-of-" + fiveDigits(count) + "." + `extension`
    }

    private static func fiveDigits(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}
