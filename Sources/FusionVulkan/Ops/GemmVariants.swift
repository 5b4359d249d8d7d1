import FusionCore

/// One configuration of the register-tiled GEMM kernels (`gemm_tiled.comp` for strided
/// GEMMs, `conv2d_gemm.comp` for implicit-GEMM convolutions; both share
/// `gemm_tiling.glsl`): the block tile BM x BN x BK staged in shared memory and the TM x TN
/// accumulator tile each thread keeps in registers, all specialization constants, and what
/// the device needs to run it.
///
/// `GemmVariant.all` is the one list of variants: the default choice, the tuner's
/// candidates, `FUSIONKIT_GEMM_VARIANT` and `fusion parity --ops` all read it.
public struct GemmVariant: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let bm: Int, bn: Int, bk: Int
    public let tm: Int, tn: Int
    /// The multiply-add of a staged slice runs through cooperative matrices
    /// (`GEMM_COOPMAT` build of gemm_mma.glsl); needs fp16 storage and the device extension.
    public let cooperativeMatrix: Bool
    /// Cooperative-matrix variants: the warp tile each subgroup of 32 multiplies in 16 x 16
    /// fragments (spec constants 13, 14); 0 for plain variants.
    public let wm: Int, wn: Int

    init(name: String, bm: Int, bn: Int, bk: Int, tm: Int, tn: Int, cooperativeMatrix: Bool, wm: Int = 0, wn: Int = 0) {
        self.name = name
        self.bm = bm; self.bn = bn; self.bk = bk; self.tm = tm; self.tn = tn
        self.cooperativeMatrix = cooperativeMatrix
        self.wm = wm; self.wn = wn
    }

    /// The same tiling with the plain multiply-add (`<name>-plain`): what the CI checks of a
    /// cooperative-matrix variant on devices without cooperative matrices.
    public var plainTwin: GemmVariant {
        cooperativeMatrix ? GemmVariant(name: name + "-plain", bm: bm, bn: bn, bk: bk, tm: tm, tn: tn, cooperativeMatrix: false) : self
    }

    /// Threads of a workgroup: one per TM x TN accumulator tile.
    public var threads: Int { (bm / tm) * (bn / tn) }
    /// Shared memory of the two fp32 stages of A and B, rows padded by one element.
    /// (Cooperative matrices: fp16 stages padded by 8, plus the fp32 BM x BN block the
    /// fragments are stored through.)
    public var sharedBytes: Int {
        cooperativeMatrix ? 2 * bk * ((bm + 8) + (bn + 8)) * 2 + bm * bn * 4 : 2 * bk * ((bm + 1) + (bn + 1)) * 4
    }
    /// Specialization constants 0...5 (WG, BM, BN, BK, TM, TN).
    var tileConstants: [UInt32] { [threads, bm, bn, bk, tm, tn].map { UInt32($0) } }
    /// The kernel's constants (from id 0, `kernelConstants` at 10...) with the warp tile at
    /// 13 and 14 for cooperative matrices.
    func specialization(_ kernelConstants: [UInt32]) -> [UInt32] {
        guard cooperativeMatrix else { return kernelConstants }
        var spec = kernelConstants
        while spec.count < 13 { spec.append(0) }
        return spec + [UInt32(wm), UInt32(wn)]
    }
    /// Defines of the variant's build.
    var defines: [(String, String)] { cooperativeMatrix ? [("GEMM_COOPMAT", "1")] : [] }

    public var description: String {
        "\(name) (\(bm)x\(bn)x\(bk) block, \(tm)x\(tn) per thread, \(threads) threads, \(sharedBytes) B shared\(cooperativeMatrix ? ", cooperative matrix" : ""))"
    }

    /// The shader of a kernel family.
    static func shader(_ kind: GemmKernelKind) -> String {
        switch kind {
        case .gemm: return "gemm_tiled.comp"
        case .conv: return "conv2d_gemm.comp"
        }
    }

    /// Why `info` cannot run this variant at `precision`, or nil when it can.
    public func unsupportedReason(on info: VulkanDeviceInfo, precision: StoragePrecision) -> String? {
        if threads > Int(info.maxComputeWorkGroupInvocations) || threads > Int(info.maxComputeWorkGroupSize[0]) {
            return "\(threads) threads per workgroup, over the device's \(info.maxComputeWorkGroupInvocations)"
        }
        if sharedBytes > Int(info.maxComputeSharedMemorySize) {
            return "\(sharedBytes) bytes of shared memory, over the device's \(info.maxComputeSharedMemorySize)"
        }
        if cooperativeMatrix {
            if precision != .fp16 { return "cooperative-matrix variants run with fp16 storage only (--precision fp16)" }
            if !info.extensions.contains("VK_NV_cooperative_matrix") { return "the device has no VK_NV_cooperative_matrix" }
            if info.subgroupSize != 32 { return "cooperative-matrix variants need subgroups of 32 (the device has \(info.subgroupSize))" }
        }
        return nil
    }

    public func isSupported(on info: VulkanDeviceInfo, precision: StoragePrecision) -> Bool {
        unsupportedReason(on: info, precision: precision) == nil
    }

    /// Every variant. Plain ones keep shared memory within 32 KiB (lavapipe's limit, so each
    /// one is checked in CI) and BK a multiple of 4 (vec4 loads); each cooperative-matrix
    /// variant has its plain twin in the list, which CI checks in its place.
    public static let all: [GemmVariant] = [
        GemmVariant(name: "b8x256k8t1x8", bm: 8, bn: 256, bk: 8, tm: 1, tn: 8, cooperativeMatrix: false),
        GemmVariant(name: "b16x128k16t2x8", bm: 16, bn: 128, bk: 16, tm: 2, tn: 8, cooperativeMatrix: false),
        GemmVariant(name: "b32x32k16t4x4", bm: 32, bn: 32, bk: 16, tm: 4, tn: 4, cooperativeMatrix: false),
        GemmVariant(name: "b64x64k16t8x8", bm: 64, bn: 64, bk: 16, tm: 8, tn: 8, cooperativeMatrix: false),
        GemmVariant(name: "b64x64k16t4x4", bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, cooperativeMatrix: false),
        GemmVariant(name: "b128x64k16t8x4", bm: 128, bn: 64, bk: 16, tm: 8, tn: 4, cooperativeMatrix: false),
        GemmVariant(name: "b64x128k16t4x8", bm: 64, bn: 128, bk: 16, tm: 4, tn: 8, cooperativeMatrix: false),
        GemmVariant(name: "b128x128k8t8x8", bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, cooperativeMatrix: false),
    ] + coopmatVariants + coopmatVariants.map(\.plainTwin)

    /// fp16 cooperative-matrix variants (GL_NV_cooperative_matrix, 16 x 16 x 16 fragments).
    static let coopmatVariants: [GemmVariant] = [
        GemmVariant(name: "cm64x64k16w32x32", bm: 64, bn: 64, bk: 16, tm: 4, tn: 8, cooperativeMatrix: true, wm: 32, wn: 32),
        GemmVariant(name: "cm128x64k16w32x32", bm: 128, bn: 64, bk: 16, tm: 8, tn: 4, cooperativeMatrix: true, wm: 32, wn: 32),
        GemmVariant(name: "cm64x128k16w32x32", bm: 64, bn: 128, bk: 16, tm: 4, tn: 8, cooperativeMatrix: true, wm: 32, wn: 32),
    ]

    public static func named(_ name: String) -> GemmVariant? { all.first { $0.name == name } }

    /// The variants `info` can run at `precision`, in table order.
    public static func supported(on info: VulkanDeviceInfo, precision: StoragePrecision) -> [GemmVariant] {
        all.filter { $0.isSupported(on: info, precision: precision) }
    }
}

/// The two kernel families that share the tiling.
public enum GemmKernelKind: String, Sendable, Codable, CaseIterable {
    case gemm
    case conv
}

/// A problem's kernel choice: the variant and the number of K splits (1: none).
public struct GemmChoice: Sendable, Equatable {
    public var variant: GemmVariant
    public var splits: Int
    public init(variant: GemmVariant, splits: Int) {
        self.variant = variant
        self.splits = splits
    }
}

/// What identifies a GEMM-shaped problem for tuning: the family, the sizes and the
/// storage precision.
public struct GemmShapeKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var kind: GemmKernelKind
    public var m: Int, n: Int, k: Int
    public var batch: Int
    public var fp16: Bool

    public init(kind: GemmKernelKind, m: Int, n: Int, k: Int, batch: Int, fp16: Bool) {
        self.kind = kind; self.m = m; self.n = n; self.k = k; self.batch = batch; self.fp16 = fp16
    }

    public var description: String { "\(kind.rawValue) \(m)x\(n)x\(k)\(batch > 1 ? " x\(batch)" : "")\(fp16 ? " fp16" : "")" }
}

extension GemmVariant {
    /// Default choice from the problem and the device: the largest block that still gives
    /// enough workgroups to fill the device, then K splits when even the smallest block
    /// leaves it idle and K is long (channel-attention Gram sums, 1x1 convs on small maps).
    static func defaultChoice(for key: GemmShapeKey, on info: VulkanDeviceInfo, precision: StoragePrecision,
                              cooperativeMatrixEnabled: Bool = true) -> GemmChoice {
        // Cooperative matrices where the device has them (fp16), else the plain variants.
        let all = supported(on: info, precision: precision).filter { !$0.cooperativeMatrix || cooperativeMatrixEnabled }
        let coopmat = all.filter(\.cooperativeMatrix)
        var candidates = coopmat.isEmpty ? all : coopmat
        // CPU drivers run a workgroup as a loop with a coroutine switch per barrier: few
        // threads with large register tiles (what matmul.comp / conv2d.comp use there).
        if info.type.contains("CPU"), candidates.contains(where: { $0.threads <= 64 }) { candidates = candidates.filter { $0.threads <= 64 } }
        guard !candidates.isEmpty else { return GemmChoice(variant: Self.all[0], splits: 1) }
        // Workgroups that keep the device busy: many on a GPU, a few on a CPU driver.
        let busy = info.type.contains("CPU") ? 8 : 256
        func blocks(_ v: GemmVariant) -> Int { ((key.m + v.bm - 1) / v.bm) * ((key.n + v.bn - 1) / v.bn) * key.batch }
        // Share of the blocks' outputs that lie inside C (skinny problems waste tall blocks).
        func useful(_ v: GemmVariant) -> Double {
            Double(key.m * key.n) / Double(((key.m + v.bm - 1) / v.bm) * v.bm * ((key.n + v.bn - 1) / v.bn) * v.bn)
        }
        let filling = candidates.filter { blocks($0) >= busy }
        let variant: GemmVariant
        if filling.isEmpty {
            // Too small to fill the device: the most blocks, then the least waste.
            variant = candidates.max { (blocks($0), useful($0)) < (blocks($1), useful($1)) }!
        } else {
            // Least waste (to 10%), then the largest block (most reuse per load).
            variant = filling.max { a, b in
                let ua = (useful(a) * 10).rounded(.down), ub = (useful(b) * 10).rounded(.down)
                return (ua, a.bm * a.bn) < (ub, b.bm * b.bn)
            }!
        }
        return GemmChoice(variant: variant, splits: defaultSplits(k: key.k, blocks: blocks(variant), busy: busy, bk: variant.bk))
    }

    /// K splits for a problem of `blocks` workgroups: enough to reach `busy`, each split at
    /// least 256 long, at most 16.
    static func defaultSplits(k: Int, blocks: Int, busy: Int, bk: Int) -> Int {
        guard blocks < busy, k >= 1024 else { return 1 }
        return max(1, min(16, k / 256, (busy + blocks - 1) / max(blocks, 1)))
    }
}
