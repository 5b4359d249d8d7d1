import FusionCore

extension EncodeContext {
    /// pointwiseDepthwise (Shaders/conv2d_pointwise_depthwise.comp): [LayerNorm ->] 1x1 ->
    /// depthwise in one kernel whose intermediates stay in shared memory.
    ///
    /// One dispatch covers the whole batch when x and the output each fit a binding.
    /// Otherwise each sample gets its own dispatches, its x bound whole and its output in
    /// chunks of channels (multiples of the kernel's 16-channel block) that fit; a sample
    /// whose x does not fit one binding throws `limitExceeded`.
    func encodePointwiseDepthwise(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .pointwiseDepthwise(normEps, a) = node.op else { return }
        guard output.count > 0 else { return }
        let x = inputs[0], pw = inputs[inputs.count - 2], dw = inputs[inputs.count - 1]
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let m = pw.shape[0], kh = dw.shape[2], kw = dw.shape[3]
        let ho = output.shape[2], wo = output.shape[3]
        let tile = 8, block = 16
        let tilesX = groupCount(wo, tile), tilesY = groupCount(ho, tile)
        // The shader runs one thread per pixel of the halo tile (rounded up to 32): 128 up to
        // 4x4 kernels (Vulkan's guaranteed minimum), 160 at 5x5.
        let threads = ((tile + kh - 1) * (tile + kw - 1) + 31) / 32 * 32
        guard threads <= Int(context.info.maxComputeWorkGroupInvocations), threads <= Int(context.info.maxComputeWorkGroupSize[0]) else {
            throw FusionError.limitExceeded(op: opName, detail: "a \(kh)x\(kw) kernel needs workgroups of \(threads) invocations; the device allows \(context.info.maxComputeWorkGroupInvocations)")
        }
        let pwBinding = try bind(pw, .read), dwBinding = try bind(dw, .read)
        let normBindings = try normEps != nil ? [bind(inputs[1], .read), bind(inputs[2], .read)] : [pwBinding, pwBinding]
        // CPU drivers (llvmpipe) skip the shared staging of the 1x1's operands and broadcast
        // weights by subgroup shuffles (DIRECT), when the subgroup size divides the kernel's
        // 16-channel block.
        let sg = Int(context.info.subgroupSize)
        let direct = useDirectKernels && sg <= block && block % sg == 0
        let defines = [("KH", "\(kh)"), ("KW", "\(kw)"), ("NORM", normEps != nil ? "1" : "0"),
                       ("DIRECT", direct ? "1" : "0"), ("SG", "\(direct ? sg : 1)")]
        let maxZ = Int(context.info.maxComputeWorkGroupCount[2])
        let plane = h * w, outPlane = ho * wo

        func dispatchTiles(xb: BufferBinding, xOff: Int, yb: BufferBinding, yOff: Int, mStart: Int, mCount: Int, batches: Int) throws {
            var args = ShaderArguments()
            args.ints([xOff, yOff, c, h, w, m, ho, wo, a.padding.0, a.padding.2, tilesX, tilesY, mStart, mCount,
                       c * plane, m * outPlane])
            args.float(normEps ?? 0)
            try dispatch("conv2d_pointwise_depthwise.comp", defines: defines,
                         bindings: [xb, pwBinding, dwBinding] + normBindings + [yb], arguments: args,
                         groups: (tilesX * tilesY * groupCount(mCount, block), 1, batches))
        }

        if heavyFits(elements: x.count), heavyFits(elements: output.count) {
            let xb = try bind(x, .read), yb = try bind(output, .write)
            var n0 = 0
            while n0 < n {
                let nb = min(maxZ, n - n0)
                try dispatchTiles(xb: xb, xOff: n0 * c * plane, yb: yb, yOff: n0 * m * outPlane, mStart: 0, mCount: m, batches: nb)
                n0 += nb
            }
            return
        }
        let budget = heavySplitBytes - offsetAlignment
        let chunk = max(block, min(m, budget / max(4 * outPlane, 1)) / block * block)
        for s in 0..<n {
            let (xb, xOff) = try bindElements(x, .read, start: s * c * plane, elements: c * plane)
            for m0 in stride(from: 0, to: m, by: chunk) {
                let mc = min(chunk, m - m0)
                let (yb, yOff) = try bindElements(output, .write, start: (s * m + m0) * outPlane, elements: mc * outPlane)
                // The shader adds n * ysN: with one sample per dispatch n is 0.
                try dispatchTiles(xb: xb, xOff: xOff, yb: yb, yOff: yOff, mStart: m0, mCount: mc, batches: 1)
            }
        }
    }
}
