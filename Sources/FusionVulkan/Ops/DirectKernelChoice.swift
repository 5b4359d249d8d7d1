import Foundation
import FusionCore

extension EncodeContext {
    /// Whether conv2d and GEMM use the shared-memory-free kernels (`conv2d_direct.comp`,
    /// `matmul_direct.comp`) instead of the tiled ones. They are chosen on CPU
    /// implementations of Vulkan (lavapipe, SwiftShader), where workgroup barriers and
    /// shared-memory reads are slow and subgroup shuffles are register moves.
    /// The context's `options.kernels` ("direct" or "tiled", from FUSIONKIT_KERNELS or set
    /// by a test) overrides the choice.
    var useDirectKernels: Bool {
        // A forced register-tiled choice (tuner, variant sweep) implies the tiled set.
        if HeavyOpsTuning.gemmChoiceResolver != nil { return false }
        return context.usesDirectKernels
    }

    /// `FUSIONKIT_GEMM_VARIANT=legacy`: the shared-memory kernels from before the
    /// register-tiled variants (matmul.comp, conv2d.comp), for A/B comparisons. Grouped and
    /// channel-chunked convolutions always use conv2d.comp.
    var useLegacyTiledKernels: Bool { context.options.gemmVariant == "legacy" && HeavyOpsTuning.gemmChoiceResolver == nil }

    /// Rows (output channels) one invocation of a direct kernel keeps in registers for a
    /// problem of `rows` rows: 1, 2 or 4 subgroups' worth (32 measured fastest on llvmpipe).
    func directRowsPerInvocation(_ rows: Int) -> Int {
        let sg = Int(context.info.subgroupSize)
        return rows > 2 * sg ? 4 * sg : rows > sg ? 2 * sg : sg
    }

    /// The longest reduction (GEMM K, conv Cg x kh x kw) one dispatch may run: llvmpipe ends
    /// an invocation silently after 65,535 loop iterations, and the direct kernels take one
    /// iteration per k where the tiled ones take one per slice of 16.
    var maxReductionPerDispatch: Int { useDirectKernels ? 1 << 15 : 1 << 18 }

}

extension VulkanContext {
    /// The kernel set conv2d and GEMM use on this context: the direct kernels on CPU drivers
    /// (or with `options.kernels == "direct"`), else the tiled ones.
    public var usesDirectKernels: Bool {
        switch options.kernels {
        case "tiled"?: return false
        case "direct"?: return directKernelsSupported
        default: return info.type.contains("CPU") && directKernelsSupported
        }
    }

    /// The direct kernels shuffle within subgroups of 1 to 64 lanes that tile a 64-wide
    /// workgroup.
    private var directKernelsSupported: Bool {
        let sg = Int(info.subgroupSize)
        return info.subgroupStagesIncludeCompute && info.subgroupSupportedOperations.contains("shuffle")
            && sg >= 1 && sg <= 64 && 64 % sg == 0
    }

    /// One line for `bench` and `profile`: the GEMM tuning table in use, or where it would be.
    public var gemmTuningSummary: String {
        let used = usesDirectKernels ? "; not used: the direct kernels run on this device (FUSIONKIT_KERNELS=tiled uses it)" : ""
        if let table = gemmTuning { return "tuning: \(gemmTuningURL.path) (\(table.entries.count) shapes)\(used)" }
        return "tuning: none (no table at \(gemmTuningURL.path); `fusion tune` writes one)"
    }
}
