// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mop",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mop", targets: ["mop"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Run-time-dispatched SIMD kernels for quantized weight rows (baseline / AVX2 / AVX-512 in one binary).
        .target(name: "CKernels"),
        // The SIGBUS handler for mapped model files that shrink while in use: a signal handler must be C.
        .target(name: "CFaults"),
        // PNG and JPEG decoding for vision-language models' images, through libpng and libjpeg (scripts/setup.sh).
        .target(name: "CImage", linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]),
        .target(name: "Shared", dependencies: ["CMPI", "CBLAS", "CKernels", "CFaults", "CImage"]),
        .target(name: "Coordinator", dependencies: ["Shared"]),
        .target(name: "Worker", dependencies: ["Shared"]),
        .executableTarget(
            name: "mop",
            dependencies: [
                "Shared", "Coordinator", "Worker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test helpers more than one test target uses (a job of ranks as threads).
        .target(name: "TestSupport", dependencies: ["Shared"], path: "Tests/TestSupport"),
        .testTarget(name: "SharedTests", dependencies: ["Shared", "CBLAS", "CKernels", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Shared", "TestSupport"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Worker", "Shared", "TestSupport"]),
        // Runs the built `mop` executable (and mpirun) as subprocesses.
        .testTarget(name: "IntegrationTests", dependencies: ["Shared"]),
    ],
    swiftLanguageModes: [.v6]
)
