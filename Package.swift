// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "FusionKit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "fusion", targets: ["FusionCLI"]),
        .library(name: "FusionCore", targets: ["FusionCore"]),
        .library(name: "FusionCPU", targets: ["FusionCPU"]),
        .library(name: "FusionVulkan", targets: ["FusionVulkan"]),
        .library(name: "FusionIO", targets: ["FusionIO"]),
        .library(name: "FusionModels", targets: ["FusionModels"]),
        .library(name: "FusionReport", targets: ["FusionReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/console-kit", from: "4.16.2"),
    ],
    targets: [
        // System libraries (Debian: libvulkan-dev, libshaderc-dev).
        .systemLibrary(name: "CVulkan", path: "Sources/CVulkan"),
        .systemLibrary(name: "CShaderc", path: "Sources/CShaderc"),
        // zlib (Debian: zlib1g-dev) for the CRC-32 checks of zip checkpoints.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),

        // Tensors, the backend-neutral graph, shape inference and the memory planner.
        .target(name: "FusionCore", dependencies: ["CProcessGuard"], path: "Sources/FusionCore"),

        // libpng and libjpeg behind a C shim: both report errors by longjmp, which must
        // stay inside C (Debian: libpng-dev, libjpeg-dev).
        .target(
            name: "CImageCodecs",
            path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]
        ),

        // Signal handlers: temporary files unlinked on interrupts, a memory-mapped input
        // truncated by another process reported (exit 74), any other fatal fault ended with
        // a message and a status.
        .target(name: "CProcessGuard", path: "Sources/CProcessGuard"),

        // Checkpoints (safetensors, PyTorch zip, TorchScript) and images (PNG, JPEG).
        .target(name: "FusionIO", dependencies: ["FusionCore", "CImageCodecs", "CZlib", "CProcessGuard", .product(name: "Crypto", package: "swift-crypto")], path: "Sources/FusionIO"),

        // The published networks as backend-neutral graphs, with their weight loaders.
        .target(name: "FusionModels", dependencies: ["FusionCore", "FusionIO"], path: "Sources/FusionModels"),

        // OpenBLAS, loaded with dlopen when the CPU backend first needs it (Debian: libopenblas0).
        .target(name: "CBLASLoader", path: "Sources/CBLASLoader", linkerSettings: [.linkedLibrary("dl")]),

        // CPU reference backend.
        .target(name: "FusionCPU", dependencies: ["FusionCore", "CBLASLoader", "CProcessGuard", "CCPUKernels"], path: "Sources/FusionCPU"),

        // Embeds Shaders/*.comp into the Vulkan module at build time.
        .executableTarget(name: "ShaderEmbedder", path: "Sources/ShaderEmbedder"),
        .plugin(name: "EmbedShaders", capability: .buildTool(), dependencies: ["ShaderEmbedder"], path: "Plugins/EmbedShaders"),

        // Vulkan runtime and backend.
        .target(
            name: "FusionVulkan",
            dependencies: ["FusionCore", "FusionIO", "CVulkan", "CShaderc"],
            path: "Sources/FusionVulkan",
            plugins: ["EmbedShaders"]
        ),

        // What the CLI and tests share: backend choice, published weights, golden cases.
        .target(
            name: "FusionEngine",
            dependencies: [
                "FusionCore", "FusionIO", "FusionModels", "FusionCPU", "FusionVulkan", "FusionMetrics",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/FusionEngine"
        ),

        // CPU kernels whose speed needs the CPU's vector ISA (AVX-512 or AVX2+FMA chosen at run time).
        .target(name: "CCPUKernels", path: "Sources/CCPUKernels"),

        // Peak FMA throughput of a CPU thread, per ISA chosen at run time (fusion bench --peak).
        .target(name: "CCPUProbe", path: "Sources/CCPUProbe"),

        // Benchmarks: op and model cases, the runner, device peaks, GPU profiles.
        .target(name: "FusionBench", dependencies: ["FusionCore", "FusionCPU", "FusionVulkan", "FusionModels", "FusionParity", "CCPUProbe"], path: "Sources/FusionBench"),

        // CPU/GPU parity harness shared by the CLI and the tests.
        .target(name: "FusionParity", dependencies: ["FusionCore", "FusionCPU", "FusionVulkan"], path: "Sources/FusionParity"),

        // Fusion-quality metrics (the Python evaluator's and VIFB's conventions) for `fusion eval`.
        .target(name: "FusionMetrics", dependencies: ["FusionIO"], path: "Sources/FusionMetrics"),

        // Self-contained HTML report of a fused dataset: thumbnails and `fusion eval` metrics.
        .target(name: "FusionReport", dependencies: ["FusionIO", "FusionMetrics"], path: "Sources/FusionReport"),

        .executableTarget(
            name: "FusionCLI",
            dependencies: [
                "FusionCore", "FusionCPU", "FusionVulkan", "FusionParity", "FusionIO", "FusionModels", "FusionEngine", "FusionMetrics", "FusionBench", "FusionReport", "CProcessGuard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ConsoleKitTerminal", package: "console-kit"),
            ],
            path: "Sources/FusionCLI"
        ),

        .testTarget(name: "FusionCoreTests", dependencies: ["FusionCore"], path: "Tests/FusionCoreTests"),
        // Helpers every test target shares: the shared data folder, running the CLI.
        .target(name: "FusionTestSupport", dependencies: ["FusionCore", "CZlib"], path: "Sources/FusionTestSupport"),

        .testTarget(
            name: "FusionIOTests",
            dependencies: ["FusionCore", "FusionIO", "CZlib", "FusionTestSupport", .product(name: "Crypto", package: "swift-crypto")], path: "Tests/FusionIOTests"),
        .testTarget(
            name: "FusionModelsTests",
            dependencies: ["FusionCore", "FusionIO", "FusionModels", "FusionCPU", "FusionVulkan", "FusionEngine", "FusionParity", "FusionTestSupport"],
            path: "Tests/FusionModelsTests"),
        .testTarget(
            name: "FusionMetricsTests",
            dependencies: ["FusionIO", "FusionMetrics", "FusionTestSupport"],
            path: "Tests/FusionMetricsTests"),
        .testTarget(
            name: "FusionReportTests",
            dependencies: ["FusionIO", "FusionMetrics", "FusionReport", "FusionTestSupport"],
            path: "Tests/FusionReportTests"),
        .testTarget(name: "FusionCPUTests", dependencies: ["FusionCore", "FusionCPU", "FusionParity"], path: "Tests/FusionCPUTests"),
        // Hostile input, faults and limits: every exit clean, nothing clobbered or left behind.
        .testTarget(
            name: "FusionReliabilityTests",
            dependencies: ["FusionCore", "FusionIO", "FusionModels", "FusionEngine", "FusionVulkan", "FusionTestSupport", "CProcessGuard"],
            path: "Tests/FusionReliabilityTests"),
        .testTarget(name: "FusionVulkanTests", dependencies: ["FusionCore", "FusionCPU", "FusionVulkan", "FusionParity", "FusionTestSupport", "FusionBench", "FusionModels", "FusionIO"], path: "Tests/FusionVulkanTests"),
    ]
)
