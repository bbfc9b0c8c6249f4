import XCTest
@testable import Shared

final class BLASKernelTests: XCTestCase {
    static let zen5Flags: Set<String> = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq",
                                         "avx512vl", "avx512_bf16"]

    func testAVX512MachineGetsSkylakeXWhereOpenBLASFellBack() {
        XCTAssertEqual(BLASKernel.preferred(current: "Haswell", cpuFlags: Self.zen5Flags), "SkylakeX")
        XCTAssertEqual(BLASKernel.preferred(current: "Zen", cpuFlags: Self.zen5Flags), "SkylakeX")
    }

    func testOpenBLASChoiceStandsWhenItIsAlreadyWideOrTheCPUIsNot() {
        XCTAssertNil(BLASKernel.preferred(current: "SkylakeX", cpuFlags: Self.zen5Flags))
        XCTAssertNil(BLASKernel.preferred(current: "Cooperlake", cpuFlags: Self.zen5Flags))
        // Zen 3: AVX2 only; and a CPU missing one of the five AVX-512 subsets SkylakeX's kernels use.
        XCTAssertNil(BLASKernel.preferred(current: "Haswell", cpuFlags: ["sse2", "avx", "avx2", "fma"]))
        XCTAssertNil(BLASKernel.preferred(current: "Haswell", cpuFlags: Self.zen5Flags.subtracting(["avx512vl"])))
    }

    func testFlagsComeFromTheFirstProcessor() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f\n\nprocessor\t: 1\nflags\t\t: fpu sse2\n"
        XCTAssertEqual(BLASKernel.cpuFlags(cpuinfo: cpuinfo), ["fpu", "avx2", "avx512f"])
        XCTAssertEqual(BLASKernel.cpuFlags(cpuinfo: "processor : 0\n"), [])
    }
}
