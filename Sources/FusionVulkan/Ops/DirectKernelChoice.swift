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
        switch context.options.kernels {
        case "tiled"?: return false
        case "direct"?: return directKernelsSupported
        default: return context.info.type.contains("CPU") && directKernelsSupported
        }
    }

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

    /// The direct kernels shuffle within subgroups of 1 to 64 lanes that tile a 64-wide
    /// workgroup.
    private var directKernelsSupported: Bool {
        let info = context.info, sg = Int(info.subgroupSize)
        return info.subgroupStagesIncludeCompute && info.subgroupSupportedOperations.contains("shuffle")
            && sg >= 1 && sg <= 64 && 64 % sg == 0
    }
}
