import XCTest

/// mop runs OpenBLAS's widest kernel for the CPU and says which (issue 14): a kernel the user names is kept.
final class BLASKernelCommandTests: XCTestCase {
    /// The kernel `mop inspect` reports, run with OPENBLAS_CORETYPE as given (nil: unset, whatever this shell has).
    private func kernel(coreType: String?) throws -> String {
        let arguments = ["-u", "OPENBLAS_CORETYPE"] + (coreType.map { ["OPENBLAS_CORETYPE=" + $0] } ?? [])
            + [MopProcess.binary, "inspect", try RealInputs.smolLM2(), "--json"]
        let output = try MopProcess.launch("/usr/bin/env", arguments, timeout: 60, environment: [:])
        XCTAssertEqual(output.status, 0, output.stderr)
        return try XCTUnwrap(output.json?["blas_kernel"] as? String, output.stdout)
    }

    func testAVX512MachinesRunAnAVX512KernelAndANamedKernelIsKept() throws {
        let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        let chosen = try kernel(coreType: nil)
        // OpenBLAS's own AVX-512 families, or SkylakeX where mop had to ask for it.
        if avx512 { XCTAssertTrue(["SkylakeX", "Cooperlake", "SapphireRapids"].contains(chosen), chosen) }
        XCTAssertNotEqual(chosen, "unknown")
        // Every x86-64 OpenBLAS build has the Haswell kernels; the user's choice is not overridden.
        XCTAssertEqual(try kernel(coreType: "Haswell"), "Haswell")
    }

    /// mop's own kernels run the widest instruction set the CPU has, and MOP_KERNEL_ISA chooses a narrower one.
    func testMopKernelsRunTheWidestInstructionSetUnlessToldOtherwise() throws {
        func isa(_ forced: String?) throws -> String {
            let output = try MopProcess.run(["inspect", try RealInputs.smolLM2(), "--json"],
                                            environment: forced.map { ["MOP_KERNEL_ISA": $0] } ?? [:])
            XCTAssertEqual(output.status, 0, output.stderr)
            return try XCTUnwrap(output.json?["kernel_isa"] as? String, output.stdout)
        }
        let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        let widest = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma", "f16c"].allSatisfy(flags.contains) ? "avx512"
            : ["avx2", "fma", "f16c"].allSatisfy(flags.contains) ? "avx2" : "baseline"
        XCTAssertEqual(try isa(nil), widest)
        XCTAssertEqual(try isa("baseline"), "baseline")
        XCTAssertEqual(try isa("no-such-isa"), widest)
    }
}
