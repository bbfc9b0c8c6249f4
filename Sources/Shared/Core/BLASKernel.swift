import CBLAS
import Foundation

/// Which OpenBLAS kernels run the products. OpenBLAS picks them by CPU model when the library loads; a library older
/// than the CPU may not know it and fall back to an AVX2 family on a CPU with AVX-512, where sgemm then runs at about
/// half the machine's width (Haswell 225-232 against SkylakeX 430-434 GFLOP/s at 2 threads here). The library reads
/// `OPENBLAS_CORETYPE` only while it loads, before `main`, so choosing for it means executing the program again with
/// the variable set: once, before anything else (MPI included) has started. A kernel the user names is kept.
public enum BLASKernel {
    /// The kernel family OpenBLAS runs, e.g. "Haswell" or "SkylakeX".
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// OpenBLAS's build description (version, threading, the kernel).
    public static var configuration: String { openblas_get_config().map { String(cString: $0) } ?? "unknown" }

    /// The variable that names the kernel; set by the user, it is always respected.
    static let variable = "OPENBLAS_CORETYPE"

    /// The kernel to ask for on a CPU with `flags` when OpenBLAS chose `current`, or nil when its choice stands:
    /// SkylakeX (AVX-512 F/CD/BW/DQ/VL, what its sgemm kernels use) where the library fell back to an AVX2 or older
    /// family.
    static func preferred(current: String, cpuFlags flags: Set<String>) -> String? {
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        let narrower = ["haswell", "zen", "sandybridge", "nehalem", "core2", "prescott", "barcelona", "bulldozer",
                        "piledriver", "steamroller", "excavator", "atom"]
        return avx512 && narrower.contains(current.lowercased()) ? "SkylakeX" : nil
    }

    /// The `flags` of the first processor in /proc/cpuinfo (empty where there is none).
    static func cpuFlags(cpuinfo: String) -> Set<String> {
        guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Executes this program again with the widest kernel the CPU runs, when OpenBLAS chose a narrower one and the
    /// user did not name one; returns (without doing anything) otherwise or if the new image cannot start.
    public static func useWidestKernel() {
        guard ProcessInfo.processInfo.environment[variable] == nil,
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let kernel = preferred(current: coreName, cpuFlags: cpuFlags(cpuinfo: cpuinfo)) else { return }
        setenv(variable, kernel, 1)
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        // /proc/self/exe is this very binary even if the file on disk was replaced meanwhile.
        execv("/proc/self/exe", arguments)
        unsetenv(variable)  // exec failed: go on with the kernel already loaded
    }
}
