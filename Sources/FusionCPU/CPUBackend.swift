import CCPUKernels
import Foundation
import FusionCore

/// The CPU reference backend: float32 kernels, GEMMs through OpenBLAS, work spread over
/// `threads` threads with `DispatchQueue.concurrentPerform`.
public final class CPUBackend: Backend {
    public let threads: Int
    /// Intermediate memory shared by every executable of this backend (grow-only).
    let arena = CPUArena()
    public var passes: GraphPasses
    /// Whether 3x3 convs with many channels run as Winograd F(4x4,3x3) (FUSIONKIT_CPU_WINOGRAD
    /// picks the rule): 2x faster, with about 20x the fp32 rounding of a direct convolution
    /// (up to ~1.3e-5 of the output's scale on large sums). A backend serving as the
    /// reference that others are checked against (`fusion parity`, the op catalogue) turns it
    /// off, so the reference is the direct sum.
    public var winograd = true

    /// The vector code path of the C kernels on this machine ("avx512", "avx2-fma" or "generic"),
    /// chosen at run time (`CCPUKernels`).
    public static var kernelISA: String { String(cString: fk_cpu_kernels_isa()) }

    /// - Parameter threads: worker threads (default: every active processor).
    ///   - passes: graph passes `prepare` applies (default: the options' FUSIONKIT_PASSES, all).
    public init(threads: Int? = nil, passes: GraphPasses = FusionOptions.current.passes) {
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        self.passes = passes
    }

    public var name: String { "cpu" }

    public var sharesIntermediateMemory: Bool { true }

    public var deviceDescription: String {
        "CPU (\(threads) thread\(threads == 1 ? "" : "s"), \(BLASThreads.libraryName))"
    }

    public func prepare(_ graph: Graph) throws -> Executable {
        try CPUExecutable(graph: try optimized(graph), threads: threads, arena: arena, winograd: winograd)
    }
}
