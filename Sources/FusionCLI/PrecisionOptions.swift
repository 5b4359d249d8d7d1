import ArgumentParser
import FusionCore

extension StoragePrecision: ExpressibleByArgument {}

/// `--precision fp32|fp16`, shared by `fuse`, `bench`, `profile` and `parity`: how the
/// Vulkan backend stores float activations and weights. Accumulation and norm / softmax
/// statistics stay fp32, and inputs and outputs stay fp32 for the caller. Without the
/// option, FUSIONKIT_PRECISION (else fp32) applies. The CPU backend is fp32 only: asking
/// it for fp16 with `--precision fp16` is an error.
struct PrecisionOptions: ParsableArguments {
    @Option(help: "Vulkan storage of activations and weights: fp32 (default) or fp16 (2 bytes an element; needs shaderFloat16 and storageBuffer16BitAccess; sums and statistics stay fp32). The CPU backend is fp32 only.")
    var precision: StoragePrecision?

    /// The precision asked for: the option, else FUSIONKIT_PRECISION, else fp32.
    var resolved: StoragePrecision { precision ?? FusionOptions.current.vulkan.precision }

    /// The process's options with the resolved precision for the Vulkan backend.
    var options: FusionOptions {
        var o = FusionOptions.current
        o.vulkan.precision = resolved
        return o
    }

    /// Refuses `--precision fp16` where only the CPU backend runs.
    func validate(cpuOnly: Bool) throws {
        if cpuOnly, precision == .fp16 {
            throw ValidationError("--precision fp16 applies to the Vulkan backend; the CPU backend stores and computes fp32 only")
        }
    }
}
