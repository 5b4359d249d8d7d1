import FusionCore

/// One kernel choice for the `.attention` op: the scalar flash kernel (`attention.comp`),
/// the two GEMMs around a row softmax (`encodeAttentionAsGemms`, the CPU-driver path), or a
/// configuration of the register-tiled flash kernel (`attention_tiled.comp`): BQ queries x
/// BK keys per block, the head dim staged DK at a time, a TM x TN register tile per thread,
/// all specialization constants, and what the device needs to run it.
///
/// `AttentionVariant.all` is the one list: the default choice, the tuner's candidates,
/// `FUSIONKIT_ATTENTION_VARIANT` and `fusion parity --ops` all read it.
public struct AttentionVariant: Sendable, Equatable, CustomStringConvertible {
    public enum Kernel: String, Sendable {
        /// attention.comp: each thread owns scalar scores and output columns.
        case scalar
        /// S = Q K^T and O = P V as GEMMs around attention_softmax.comp.
        case gemms
        /// attention_tiled.comp with this variant's tiles.
        case tiled
    }

    public let name: String
    public let kernel: Kernel
    public let bq: Int, bk: Int, dk: Int
    public let tm: Int, tn: Int
    /// The block products run through cooperative matrices (`ATTN_COOPMAT` build of
    /// attention_mma.glsl, GL_NV_cooperative_matrix); needs fp16 storage and the extension.
    public let cooperativeMatrix: Bool
    /// Cooperative-matrix variants: the warp tile of each subgroup of 32 (spec constants 13,
    /// 14); 0 otherwise.
    public let wm: Int, wn: Int

    init(name: String, kernel: Kernel, bq: Int = 0, bk: Int = 0, dk: Int = 0, tm: Int = 1, tn: Int = 1,
         cooperativeMatrix: Bool = false, wm: Int = 0, wn: Int = 0) {
        self.name = name; self.kernel = kernel
        self.bq = bq; self.bk = bk; self.dk = dk; self.tm = tm; self.tn = tn
        self.cooperativeMatrix = cooperativeMatrix
        self.wm = wm; self.wn = wn
    }

    /// The same tiling with the plain block product (`<name>-plain`): what CI checks of a
    /// cooperative-matrix variant on devices without cooperative matrices.
    public var plainTwin: AttentionVariant {
        cooperativeMatrix ? AttentionVariant(name: name + "-plain", kernel: kernel, bq: bq, bk: bk, dk: dk, tm: tm, tn: tn) : self
    }

    /// Threads of a tiled workgroup: one per TM x TN tile of the BQ x BK block (the scalar
    /// kernel's 128 otherwise).
    public var threads: Int { kernel == .tiled ? (bq / tm) * (bk / tn) : 128 }

    /// Most BK-wide output chunks one tiled workgroup keeps in registers (spec constant OC);
    /// wider dv takes more workgroups.
    static let maxOutputChunks = 4

    /// Shared memory of a tiled workgroup with head-dim chunk `dk`: Q^T and P^T, K^T or V,
    /// the row-reduction buffer (and the fp32 block the fragments are stored through).
    func sharedBytes(dk: Int) -> Int {
        guard kernel == .tiled else { return 0 }
        let element = cooperativeMatrix ? 2 : 4, pad = cooperativeMatrix ? 8 : 1
        let a = (dk + bk) * (bq + pad), b = max(dk, bk) * (bk + pad)
        return (a + b) * element + bq * (bk / tn) * 4 + (cooperativeMatrix ? bq * bk * 4 : 0)
    }
    public var sharedBytes: Int { sharedBytes(dk: dk) }

    /// Specialization constants of attention_tiled.comp (0...9, the warp tile at 13, 14).
    func specialization(dk: Int, outputChunks: Int, bias: Bool, causal: Bool, partial: Bool) -> [UInt32] {
        var spec = [threads, bq, bk, dk, outputChunks, tm, tn].map { UInt32($0) } + [bias ? 1 : 0, causal ? 1 : 0, partial ? 1 : 0]
        if cooperativeMatrix {
            while spec.count < 13 { spec.append(0) }
            spec += [UInt32(wm), UInt32(wn)]
        }
        return spec
    }
    /// Defines of the variant's build.
    var defines: [(String, String)] { cooperativeMatrix ? [("ATTN_COOPMAT", "1")] : [] }

    public var description: String {
        switch kernel {
        case .scalar: return "\(name) (attention.comp, scalar flash kernel)"
        case .gemms: return "\(name) (S = Q K^T and O = P V as GEMMs around a row softmax)"
        case .tiled:
            return "\(name) (attention_tiled.comp, \(bq)x\(bk) block, d chunk \(dk), \(tm)x\(tn) per thread, \(threads) threads, \(sharedBytes) B shared\(cooperativeMatrix ? ", cooperative matrix" : ""))"
        }
    }

    /// Why `info` cannot run this variant at `precision`, or nil when it can.
    public func unsupportedReason(on info: VulkanDeviceInfo, precision: StoragePrecision) -> String? {
        guard kernel == .tiled else { return nil }
        if threads > Int(info.maxComputeWorkGroupInvocations) || threads > Int(info.maxComputeWorkGroupSize[0]) {
            return "\(threads) threads per workgroup, over the device's \(info.maxComputeWorkGroupInvocations)"
        }
        if sharedBytes > Int(info.maxComputeSharedMemorySize) {
            return "\(sharedBytes) bytes of shared memory, over the device's \(info.maxComputeSharedMemorySize)"
        }
        if cooperativeMatrix {
            if precision != .fp16 { return "cooperative-matrix variants run with fp16 storage only" }
            if !info.extensions.contains("VK_NV_cooperative_matrix") { return "the device has no VK_NV_cooperative_matrix" }
            if info.subgroupSize != 32 { return "cooperative-matrix variants need subgroups of 32 (the device has \(info.subgroupSize))" }
        }
        return nil
    }

    public func isSupported(on info: VulkanDeviceInfo, precision: StoragePrecision) -> Bool {
        unsupportedReason(on: info, precision: precision) == nil
    }

    public static let scalar = AttentionVariant(name: "flash-scalar", kernel: .scalar)
    public static let gemms = AttentionVariant(name: "gemms", kernel: .gemms)

    /// Every variant. Plain tiled ones keep shared memory within 32 KiB (lavapipe's limit, so
    /// each one is checked in CI); each cooperative-matrix variant has its plain twin in the
    /// list, which CI checks in its place.
    public static let all: [AttentionVariant] = [
        scalar, gemms,
        AttentionVariant(name: "t32x32d32r2x4", kernel: .tiled, bq: 32, bk: 32, dk: 32, tm: 2, tn: 4),
        AttentionVariant(name: "t32x32d64r4x4", kernel: .tiled, bq: 32, bk: 32, dk: 64, tm: 4, tn: 4),
        AttentionVariant(name: "t64x32d32r4x4", kernel: .tiled, bq: 64, bk: 32, dk: 32, tm: 4, tn: 4),
        AttentionVariant(name: "t16x64d32r1x8", kernel: .tiled, bq: 16, bk: 64, dk: 32, tm: 1, tn: 8),
    ] + coopmatVariants + coopmatVariants.map(\.plainTwin)

    /// fp16 cooperative-matrix variants (GL_NV_cooperative_matrix, 16 x 16 x 16 fragments).
    static let coopmatVariants: [AttentionVariant] = [
        AttentionVariant(name: "cm32x64d32w16x32", kernel: .tiled, bq: 32, bk: 64, dk: 32, tm: 2, tn: 8,
                         cooperativeMatrix: true, wm: 16, wn: 32),
        AttentionVariant(name: "cm64x32d32w32x16", kernel: .tiled, bq: 64, bk: 32, dk: 32, tm: 4, tn: 4,
                         cooperativeMatrix: true, wm: 32, wn: 16),
    ]

    public static func named(_ name: String) -> AttentionVariant? { all.first { $0.name == name } }

    /// The variants `info` can run at `precision`, in table order.
    public static func supported(on info: VulkanDeviceInfo, precision: StoragePrecision) -> [AttentionVariant] {
        all.filter { $0.isSupported(on: info, precision: precision) }
    }

    /// Default choice: the GEMM path where the direct kernels run (CPU drivers: barriers are
    /// coroutine switches there, 5-10x slower), else the scalar flash kernel (the tiled
    /// variants are opt-in, through the tuning table or FUSIONKIT_ATTENTION_VARIANT, until
    /// measured faster on a GPU).
    static func defaultChoice(directKernels: Bool) -> AttentionVariant {
        directKernels ? gemms : scalar
    }
}

/// What identifies an attention problem for tuning: batch x heads, the sequence lengths and
/// head dims, the bias and mask, and the storage precision.
public struct AttentionShapeKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var batch: Int
    public var nq: Int, nk: Int
    public var d: Int, dv: Int
    public var bias: Bool
    public var causal: Bool
    public var fp16: Bool

    public init(batch: Int, nq: Int, nk: Int, d: Int, dv: Int, bias: Bool, causal: Bool, fp16: Bool) {
        self.batch = batch; self.nq = nq; self.nk = nk; self.d = d; self.dv = dv
        self.bias = bias; self.causal = causal; self.fp16 = fp16
    }

    public var description: String {
        "attention \(batch)x\(nq)x\(nk) d\(d)\(dv != d ? " dv\(dv)" : "")\(bias ? " bias" : "")\(causal ? " causal" : "")\(fp16 ? " fp16" : "")"
    }
}
