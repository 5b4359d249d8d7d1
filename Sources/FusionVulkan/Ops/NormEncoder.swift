import FusionCore

// Normalisations (Shaders/norm.comp, Shaders/norm_stats.comp). All fp32, biased variance,
// eps inside the square root, corrected two-pass statistics: a provisional mean m0, then
// sums of d = x - m0 and d^2, giving mean m0 + sum(d)/n and variance sum(d^2)/n - (sum(d)/n)^2
// (the correction removes m0's rounding error, which 1/sqrt(var + eps) would amplify).

extension EncodeContext {
    /// Per-pixel LayerNorm over the channels of x [N,C,H,W].
    ///
    /// When one batch item (C*H*W elements) fits a binding, one fused pass (one thread per
    /// pixel, coalesced along pixels) runs over ranges of whole items. Otherwise the
    /// channels are processed in chunks that fit (each chunk of channels of one item is
    /// contiguous; a single channel plane larger than a binding is cut into pixel ranges):
    /// pass 1 accumulates per-pixel sums into a scratch [N*H*W] buffer, pass 2 the sums of
    /// deviations from the provisional mean and of their squares (two more scratch
    /// buffers), pass 3 normalises chunk by chunk.
    func encodeLayerNormChannels(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .layerNormChannels(eps) = node.op else { return }
        let x = inputs[0], weight = inputs[1], bias = inputs.count > 2 ? inputs[2] : nil
        try lightCheck([x, weight, output] + (bias.map { [$0] } ?? []))
        let n = x.shape[0], c = x.shape[1], plane = x.shape[2] * x.shape[3]
        guard output.count > 0 else { return }
        let item = c * plane
        let (wb, wOff) = try lightBindWhole(weight, .read)
        let (bb, bOff) = try bias.map { try lightBindWhole($0, .read) } ?? (wb, wOff)
        let hasBias = bias != nil ? 1 : 0

        func arguments(pixels: Int, items: Int, c0: Int, c1: Int, xOff: Int, yOff: Int, sOff: Int = 0, eOff: Int = 0,
                       mOff: Int = 0, accumulate: Bool) -> ShaderArguments {
            var args = ShaderArguments()
            args.ints([pixels, items, plane, item, c0, c1, c, xOff, yOff, sOff, eOff, mOff, wOff, bOff,
                       hasBias | (accumulate ? 2 : 0)])
            args.float(eps)
            return args
        }

        if item <= lightMaxElements {
            for items in lightRanges(n, maxItems: lightMaxElements / item) {
                let elements = (items.lowerBound * item)..<(items.upperBound * item)
                let (xb, xOff) = try lightBind(x, .read, elements: elements)
                let (yb, yOff) = try lightBind(output, .write, elements: elements)
                try lightDispatch("norm.comp", defines: [("LN_CHANNELS_PASS", "0")], bindings: [xb, wb, bb, yb],
                                  arguments: arguments(pixels: plane, items: items.count, c0: 0, c1: c,
                                                       xOff: xOff, yOff: yOff, accumulate: false),
                                  items: plane * items.count)
            }
            return
        }

        // Chunks of (channels, pixels) of one item whose x range fits one binding.
        var chunks: [(channels: Range<Int>, pixels: Range<Int>)] = []
        if plane <= lightMaxElements {
            for cr in lightRanges(c, maxItems: lightMaxElements / plane) { chunks.append((cr, 0..<plane)) }
        } else {
            for ch in 0..<c {
                for pr in lightRanges(plane, maxItems: lightMaxElements) { chunks.append((ch..<(ch + 1), pr)) }
            }
        }
        let sums = try scratch(shape: [n * plane])
        let es = try scratch(shape: [n * plane])
        let m2s = try scratch(shape: [n * plane])
        for pass in 1...3 {
            for b in 0..<n {
                for (cr, pr) in chunks {
                    let first = b * item + cr.lowerBound * plane + pr.lowerBound
                    let elements = first..<(first + (cr.count - 1) * plane + pr.count)
                    let pixels = (b * plane + pr.lowerBound)..<(b * plane + pr.upperBound)
                    let accumulate = cr.lowerBound > 0
                    let (xb, xOff) = try lightBind(x, .read, elements: elements)
                    var bindings = [xb]
                    var sOff = 0, eOff = 0, mOff = 0, yOff = 0
                    switch pass {
                    case 1:
                        let (sb, so) = try lightBind(sums, .readWrite, elements: pixels)
                        bindings.append(sb); sOff = so
                    case 2:
                        let (sb, so) = try lightBind(sums, .read, elements: pixels)
                        let (eb, eo) = try lightBind(es, .readWrite, elements: pixels)
                        let (mb, mo) = try lightBind(m2s, .readWrite, elements: pixels)
                        bindings += [sb, eb, mb]; sOff = so; eOff = eo; mOff = mo
                    default:
                        let (sb, so) = try lightBind(sums, .read, elements: pixels)
                        let (eb, eo) = try lightBind(es, .read, elements: pixels)
                        let (mb, mo) = try lightBind(m2s, .read, elements: pixels)
                        let (yb, yo) = try lightBind(output, .write, elements: elements)
                        bindings += [wb, bb, yb, sb, eb, mb]; sOff = so; eOff = eo; mOff = mo; yOff = yo
                    }
                    try lightDispatch("norm.comp", defines: [("LN_CHANNELS_PASS", "\(pass)")], bindings: bindings,
                                      arguments: arguments(pixels: pr.count, items: 1, c0: cr.lowerBound, c1: cr.upperBound,
                                                           xOff: xOff, yOff: yOff, sOff: sOff, eOff: eOff, mOff: mOff,
                                                           accumulate: accumulate),
                                      items: pr.count)
                }
            }
        }
    }

    /// F.layer_norm over the last dimension. One workgroup per row (tree reductions), or
    /// one thread per row for short rows; rows are split into ranges that fit a binding.
    func encodeLayerNorm(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .layerNorm(eps) = node.op else { return }
        let x = inputs[0], weight = inputs[1], bias = inputs.count > 2 ? inputs[2] : nil
        try lightCheck([x, weight, output] + (bias.map { [$0] } ?? []))
        let width = x.shape.last ?? 1
        guard output.count > 0, width > 0 else { return }
        let rows = x.count / width
        let (wb, wOff) = try lightBindWhole(weight, .read)
        let (bb, bOff) = try bias.map { try lightBindWhole($0, .read) } ?? (wb, wOff)
        let perThread = width <= 32
        let wg = perThread ? 64 : lightRowWorkgroup(width)
        for r in try lightItemRanges(rows, itemElements: width, tensorForError: x, access: .read) {
            let elements = (r.lowerBound * width)..<(r.upperBound * width)
            let (xb, xOff) = try lightBind(x, .read, elements: elements)
            let (yb, yOff) = try lightBind(output, .write, elements: elements)
            var args = ShaderArguments()
            args.ints([r.count, width, xOff, yOff, wOff, bOff, bias != nil ? 1 : 0])
            args.float(eps)
            var defines = [("LAYER_NORM", "1")]
            if perThread { defines.append(("ROW_PER_THREAD", "1")) }
            try dispatch("norm.comp", defines: defines, specialization: [UInt32(wg)], bindings: [xb, wb, bb, yb],
                         arguments: args, groups: (perThread ? groupCount(r.count, wg) : r.count, 1, 1))
        }
    }

    /// F.group_norm: statistics per (n, group) segment, then the per-channel affine.
    func encodeGroupNorm(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .groupNorm(groups, eps) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, inputs[1], inputs[2], output])
        let n = x.shape[0], c = x.shape[1], spatial = x.shape.dropFirst(2).reduce(1, *)
        let segment = (c / groups) * spatial
        guard output.count > 0, segment > 0 else { return }
        let stats = try scratch(shape: [n * groups, 4])
        try lightSegmentStats(x, segments: n * groups, segment: segment, eps: eps, stats: stats, output: nil)
        try lightNormApply(x, stats: stats, weight: inputs[1], bias: inputs[2], output: output,
                           segment: segment, plane: spatial, channels: c)
    }

    /// TextFusion's RLN: mean and std over C*H*W per sample, then the per-channel affine.
    func encodeGlobalNorm(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .globalNorm(eps) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, inputs[1], inputs[2], output])
        let n = x.shape[0], c = x.shape[1], plane = x.shape[2] * x.shape[3]
        let segment = c * plane
        guard output.count > 0, segment > 0 else { return }
        let stats = try scratch(shape: [n, 4])
        try lightSegmentStats(x, segments: n, segment: segment, eps: eps, stats: stats, output: nil)
        try lightNormApply(x, stats: stats, weight: inputs[1], bias: inputs[2], output: output,
                           segment: segment, plane: plane, channels: c)
    }

    /// [N, ...] -> [N, 2] of (mean, sqrt(var + eps)).
    func encodeGlobalStats(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .globalStats(eps) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let n = x.shape[0]
        guard n > 0 else { return }
        let segment = x.count / n
        guard segment > 0 else { return }
        let stats = try scratch(shape: [n, 4])
        try lightSegmentStats(x, segments: n, segment: segment, eps: eps, stats: stats, output: output)
    }

    /// Statistics of `segments` contiguous segments of x into `stats` [segments, 4] =
    /// (m0, delta, rstd, -) with mean = m0 + delta; with `output`, also (mean, std) into it
    /// ([segments, 2], globalStats). Each segment is cut into parts of `partLen` elements,
    /// one workgroup per part (per-thread strided sums, then a shared-memory tree); partial
    /// sums go to scratch and one workgroup per segment reduces them. Parts are dispatched
    /// in ranges whose elements fit one binding, so x may exceed maxStorageBufferRange.
    func lightSegmentStats(_ x: DeviceTensor, segments: Int, segment: Int, eps: Float, stats: DeviceTensor,
                           output: DeviceTensor?) throws {
        let wg = 256
        let partLen = wg * 16
        let parts = (segment + partLen - 1) / partLen
        let totalParts = segments * parts
        let partial = try scratch(shape: [totalParts, 2])
        func start(_ w: Int) -> Int { (w / parts) * segment + (w % parts) * partLen }
        func end(_ w: Int) -> Int { (w / parts) * segment + min((w % parts + 1) * partLen, segment) }

        for pass in 0...1 {
            for r in lightRanges(totalParts, maxItems: max(1, lightMaxElements / partLen)) {
                let elements = start(r.lowerBound)..<end(r.upperBound - 1)
                let (xb, xOff) = try lightBind(x, .read, elements: elements)
                let (pb, pOff) = try lightBindWhole(partial, .write)
                var bindings = [xb, pb]
                var sOff = 0
                if pass == 1 {
                    let (sb, so) = try lightBindWhole(stats, .read)
                    bindings.append(sb); sOff = so
                }
                var args = ShaderArguments()
                args.ints([r.count, r.lowerBound, parts, segment, partLen, elements.lowerBound, xOff, pOff, sOff])
                try dispatch("norm_stats.comp", defines: [("STATS_PASS", "\(pass)")], specialization: [UInt32(wg)],
                             bindings: bindings, arguments: args, groups: (r.count, 1, 1))
            }
            let (pb, pOff) = try lightBindWhole(partial, .read)
            let (sb, sOff) = try lightBindWhole(stats, .readWrite)
            var bindings = [pb, sb]
            var defines = [("STATS_FINAL", "\(pass)")]
            var oOff = 0
            if pass == 1, let output {
                let (ob, oo) = try lightBindWhole(output, .write)
                bindings.append(ob); oOff = oo
                defines.append(("STATS_OUTPUT", "1"))
            }
            var args = ShaderArguments()
            args.ints([segments, parts, segment, pOff, sOff, oOff])
            args.float(eps)
            try dispatch("norm_stats.comp", defines: defines, specialization: [UInt32(wg)],
                         bindings: bindings, arguments: args, groups: (segments, 1, 1))
        }
    }

    /// y = ((x - m0[seg]) - delta[seg]) * rstd[seg] * weight[c] + bias[c] over flat ranges that fit.
    func lightNormApply(_ x: DeviceTensor, stats: DeviceTensor, weight: DeviceTensor, bias: DeviceTensor,
                        output: DeviceTensor, segment: Int, plane: Int, channels: Int) throws {
        let (sb, sOff) = try lightBindWhole(stats, .read)
        let (wb, wOff) = try lightBindWhole(weight, .read)
        let (bb, bOff) = try lightBindWhole(bias, .read)
        for r in lightRanges(output.count, maxItems: lightMaxElements) {
            let (xb, xOff) = try lightBind(x, .read, elements: r)
            let (yb, yOff) = try lightBind(output, .write, elements: r)
            var args = ShaderArguments()
            args.ints([r.count, r.lowerBound, segment, max(plane, 1), channels, xOff, yOff, sOff, wOff, bOff])
            try lightDispatch("norm.comp", defines: [("NORM_APPLY", "1")], bindings: [xb, sb, wb, bb, yb],
                              arguments: args, items: r.count)
        }
    }

    /// Workgroup size for one-workgroup-per-row kernels: about four elements per thread,
    /// a power of two in 32...256.
    func lightRowWorkgroup(_ width: Int) -> Int {
        min(256, max(32, lightPowerOfTwo(atLeast: (width + 3) / 4)))
    }
}
