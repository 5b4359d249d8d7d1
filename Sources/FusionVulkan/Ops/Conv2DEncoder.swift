import Foundation
import FusionCore

extension EncodeContext {
    /// conv2d: depthwise convolutions (groups == Cin == Cout) use conv2d_depthwise.comp; all
    /// others (including 1x1, grouped, strided, dilated, reflect-padded) use the implicit-GEMM
    /// kernel conv2d.comp.
    ///
    /// Tensors larger than one binding are split per batch into channel chunks (NCHW keeps a
    /// batch's channel range contiguous): output-channel chunks are independent dispatches,
    /// input-channel chunks accumulate into the output (the first writes, with the bias; later
    /// ones add). A single channel plane larger than a binding cannot be split and throws
    /// `limitExceeded`.
    func encodeConv2d(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .conv2d(attributes) = node.op else { return }
        let x = inputs[0], w = inputs[1]
        let bias = inputs.count > 2 ? inputs[2] : nil
        guard output.count > 0 else { return }
        let geometry = ConvGeometry(x: x.shape, w: w.shape, out: output.shape, attributes: attributes)
        if attributes.groups == geometry.C, geometry.O == geometry.C, geometry.Cg == 1 {
            try encodeDepthwiseConv(geometry, x, w, bias, output)
        } else {
            try encodeGemmConv(geometry, x, w, bias, output)
        }
    }
}

/// Sizes of one conv2d node.
struct ConvGeometry {
    let N: Int, C: Int, H: Int, W: Int
    let O: Int, Ho: Int, Wo: Int
    let kh: Int, kw: Int
    let groups: Int, Cg: Int, Og: Int
    let a: Conv2DAttributes

    init(x: [Int], w: [Int], out: [Int], attributes: Conv2DAttributes) {
        N = x[0]; C = x[1]; H = x[2]; W = x[3]
        O = w[0]; kh = w[2]; kw = w[3]
        Ho = out[2]; Wo = out[3]
        groups = attributes.groups
        Cg = C / groups; Og = O / groups
        a = attributes
    }

    var HW: Int { H * W }
    var P: Int { Ho * Wo }
    var khw: Int { kh * kw }
    var reflect: Bool { a.paddingMode == .reflect && (a.padding.0 + a.padding.1 + a.padding.2 + a.padding.3) > 0 }
    var pointwise: Bool {
        kh == 1 && kw == 1 && a.stride == (1, 1) && a.padding == (0, 0, 0, 0)
    }

    /// kh, kw, sy, sx, dy, dx, pt, pl.
    var windowArguments: [Int] {
        [kh, kw, a.stride.0, a.stride.1, a.dilation.0, a.dilation.1, a.padding.0, a.padding.2]
    }
}

extension EncodeContext {
    // MARK: - implicit GEMM

    private func encodeGemmConv(_ g: ConvGeometry, _ x: DeviceTensor, _ w: DeviceTensor,
                                _ bias: DeviceTensor?, _ out: DeviceTensor) throws {
        // Tile: 64 threads, 8 x 8, each with up to 8 output channels x 8 pixels in registers
        // (64 x 64 outputs per workgroup). Fewer than 8 output channels turn the threads
        // towards pixels (down to 1 x 64 for a single output channel, as in TextFusion's
        // head) instead of leaving rows of the tile idle; small images shrink the tile.
        let wgY = g.Og >= 8 ? 8 : g.Og >= 4 ? 4 : g.Og >= 2 ? 2 : 1
        let wgX = 64 / wgY
        let rm = min(8, max(1, (g.Og + wgY - 1) / wgY))
        var rn = 64 / wgX
        while rn > 1 && wgX * rn / 2 >= g.P { rn /= 2 }   // power of two, so 64 % TN == 0
        var tm = wgY * rm, tn = wgX * rn
        var shader = "conv2d.comp"
        var spec: [UInt32] = [UInt32(wgX), UInt32(wgY), UInt32(rm), UInt32(rn), 16,
                              bias != nil ? 1 : 0, g.reflect ? 1 : 0, g.pointwise ? 1 : 0]
        if useDirectKernels {
            // CPU drivers: 64 pixels x up to 4 subgroups' worth of output channels per
            // workgroup, no shared memory (32 channels measured fastest on llvmpipe).
            let sg = Int(context.info.subgroupSize)
            let ob = directRowsPerInvocation(g.Og)
            shader = "conv2d_direct.comp"
            let fixed = (g.kh == 1 && g.kw == 1) || (g.kh == 3 && g.kw == 3)
            spec = [64, UInt32(ob), bias != nil ? 1 : 0, g.reflect ? 1 : 0, UInt32(sg),
                    UInt32(fixed ? g.kh : 0), UInt32(fixed ? g.kw : 0)]
            tm = ob
            tn = 64
        }
        let wBinding = try bind(w, .read)
        let bBinding = try bias.map { try bind($0, .read) } ?? wBinding
        let maxZ = Int(context.info.maxComputeWorkGroupCount[2])

        func dispatchConv(xb: BufferBinding, xOff: Int, yb: BufferBinding, yOff: Int, wOff: Int, bOff: Int,
                          Cc: Int, Oc: Int, G: Int, batches: Int, accumulate: Bool,
                          epilogue: FusedEpilogue? = nil) throws {
            var args = ShaderArguments()
            args.ints([xOff, yOff, wOff, bOff, g.H, g.W, g.Ho, g.Wo])
            args.ints([Cc, Oc, G, g.Cg * g.khw])
            args.ints([g.C * g.HW, g.O * g.P])
            args.ints(g.windowArguments)
            args.int(accumulate ? 1 : 0)
            epilogue?.push(&args)
            let tiles = G * ((Oc + tm - 1) / tm) * ((g.P + tn - 1) / tn)
            try dispatch(shader, defines: epilogue?.defines ?? [], specialization: epilogue?.specialization(spec) ?? spec,
                         bindings: [xb, wBinding, yb, bBinding] + (epilogue?.bindings ?? []), arguments: args,
                         groups: (tiles, 1, batches))
        }

        // K = Cg * kh * kw per dispatch stays within `maxConvK` (see maxReductionPerDispatch).
        let maxConvK = maxReductionPerDispatch
        let planeIn = g.HW, planeOut = g.P
        if heavyFits(elements: x.count), heavyFits(elements: out.count), g.Cg * g.khw <= maxConvK,
           g.groups == 1, !useDirectKernels, !useLegacyTiledKernels {
            // GPUs (and FUSIONKIT_KERNELS=tiled): the register-tiled implicit GEMM.
            try encodeImplicitGemmConv(g, x, w, bias, out)
            return
        }
        if heavyFits(elements: x.count), heavyFits(elements: out.count), g.Cg * g.khw <= maxConvK {
            // Everything in one binding: one dispatch (per maxZ batches), which applies the
            // node's epilogue at its store (the store index is the output's flat index).
            let xb = try bind(x, .read), yb = try bind(out, .write)
            let epilogue = try fusedEpilogue(output: out)
            var n0 = 0
            while n0 < g.N {
                let nb = min(maxZ, g.N - n0)
                try dispatchConv(xb: xb, xOff: n0 * g.C * planeIn, yb: yb, yOff: n0 * g.O * planeOut,
                                 wOff: 0, bOff: 0, Cc: g.Cg, Oc: g.Og, G: g.groups, batches: nb, accumulate: false,
                                 epilogue: epilogue)
                n0 += nb
            }
            if epilogue != nil { markEpilogueApplied() }
            return
        }

        // Channel chunks: as many planes as fit in one binding.
        let budget = heavySplitBytes - offsetAlignment
        let cChunk = max(1, min(g.Cg, budget / max(planeIn * 4, 1), maxConvK / max(g.khw, 1)))
        let oChunk = max(1, min(g.Og, budget / max(planeOut * 4, 1)))
        for n in 0..<g.N {
            for grp in 0..<g.groups {
                for o0 in stride(from: 0, to: g.Og, by: oChunk) {
                    let oc = min(oChunk, g.Og - o0)
                    let outChannel = grp * g.Og + o0
                    for c0 in stride(from: 0, to: g.Cg, by: cChunk) {
                        let cc = min(cChunk, g.Cg - c0)
                        let inChannel = grp * g.Cg + c0
                        let (xb, xOff) = try bindElements(x, .read, start: (n * g.C + inChannel) * planeIn, elements: cc * planeIn)
                        let (yb, yOff) = try bindElements(out, c0 == 0 ? .write : .readWrite,
                                                          start: (n * g.O + outChannel) * planeOut, elements: oc * planeOut)
                        try dispatchConv(xb: xb, xOff: xOff, yb: yb, yOff: yOff,
                                         wOff: outChannel * g.Cg * g.khw + c0 * g.khw, bOff: outChannel,
                                         Cc: cc, Oc: oc, G: 1, batches: 1, accumulate: c0 > 0)
                    }
                }
            }
        }
    }

    // MARK: - depthwise

    private func encodeDepthwiseConv(_ g: ConvGeometry, _ x: DeviceTensor, _ w: DeviceTensor,
                                     _ bias: DeviceTensor?, _ out: DeviceTensor) throws {
        let wg = 256, opt = 2
        let spec: [UInt32] = [UInt32(wg), UInt32(opt), bias != nil ? 1 : 0, g.reflect ? 1 : 0]
        let wBinding = try bind(w, .read)
        let bBinding = try bias.map { try bind($0, .read) } ?? wBinding
        let tilesPerChannel = (g.P + wg * opt - 1) / (wg * opt)
        let maxZ = Int(context.info.maxComputeWorkGroupCount[2])

        func dispatchDW(xb: BufferBinding, xOff: Int, yb: BufferBinding, yOff: Int, c0: Int, channels: Int, batches: Int,
                        epilogue: FusedEpilogue? = nil) throws {
            var args = ShaderArguments()
            args.ints([xOff, yOff, c0 * g.khw, c0])
            args.ints([channels, g.H, g.W, g.Ho, g.Wo])
            args.ints([g.C * g.HW, g.C * g.P])
            args.ints(g.windowArguments)
            epilogue?.push(&args)
            try dispatch("conv2d_depthwise.comp", defines: epilogue?.defines ?? [],
                         specialization: epilogue?.specialization(spec) ?? spec,
                         bindings: [xb, wBinding, yb, bBinding] + (epilogue?.bindings ?? []), arguments: args,
                         groups: (channels * tilesPerChannel, 1, batches))
        }

        if heavyFits(elements: x.count), heavyFits(elements: out.count) {
            let xb = try bind(x, .read), yb = try bind(out, .write)
            let epilogue = try fusedEpilogue(output: out)
            var n0 = 0
            while n0 < g.N {
                let nb = min(maxZ, g.N - n0)
                try dispatchDW(xb: xb, xOff: n0 * g.C * g.HW, yb: yb, yOff: n0 * g.C * g.P, c0: 0, channels: g.C, batches: nb,
                               epilogue: epilogue)
                n0 += nb
            }
            if epilogue != nil { markEpilogueApplied() }
            return
        }
        let budget = heavySplitBytes - offsetAlignment
        let chunk = max(1, min(g.C, budget / max(4 * max(g.HW, g.P), 1)))
        for n in 0..<g.N {
            for c0 in stride(from: 0, to: g.C, by: chunk) {
                let cc = min(chunk, g.C - c0)
                let (xb, xOff) = try bindElements(x, .read, start: (n * g.C + c0) * g.HW, elements: cc * g.HW)
                let (yb, yOff) = try bindElements(out, .write, start: (n * g.C + c0) * g.P, elements: cc * g.P)
                try dispatchDW(xb: xb, xOff: xOff, yb: yb, yOff: yOff, c0: c0, channels: cc, batches: 1)
            }
        }
    }
}
