import Foundation

/// The bytes this process may still allocate before the machine or its memory cgroup runs short: the smaller of
/// Linux's MemAvailable and the cgroup's limit minus its usage (v1 `memory.limit_in_bytes` / `memory.usage_in_bytes`,
/// or v2 `memory.max` / `memory.current`), so that a rank capped by a cgroup sees its cap, not the node's memory.
public enum AvailableMemory {
    /// Bytes available now; nil when /proc/meminfo cannot be read (not Linux).
    public static func bytes(root: String = "") -> Int? {
        guard let meminfo = read(root + "/proc/meminfo"),
              let available = try? ProcessMemory.field("MemAvailable", status: meminfo, file: root + "/proc/meminfo") else {
            return nil
        }
        return min(available, cgroupHeadroom(root: root) ?? Int.max)
    }

    /// The limit minus the usage of this process's memory cgroup; nil without a limit.
    static func cgroupHeadroom(root: String) -> Int? {
        guard let cgroups = read(root + "/proc/self/cgroup") else { return nil }
        for line in cgroups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = fields[2] == "/" ? "" : String(fields[2])
            if fields[1].split(separator: ",").contains("memory") {
                let folder = root + "/sys/fs/cgroup/memory" + path
                if let limit = number(folder + "/memory.limit_in_bytes"), let usage = number(folder + "/memory.usage_in_bytes"),
                   limit < 1 << 60 {  // v1 writes about 2^63 for "no limit"
                    return max(0, limit - usage)
                }
            } else if fields[0] == "0", fields[1].isEmpty {
                let folder = root + "/sys/fs/cgroup" + path
                if let limit = number(folder + "/memory.max"), let usage = number(folder + "/memory.current") {
                    return max(0, limit - usage)  // "max" (no limit) is not a number
                }
            }
        }
        return nil
    }

    private static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func number(_ path: String) -> Int? {
        read(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
