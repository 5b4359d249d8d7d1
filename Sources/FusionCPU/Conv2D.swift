import FusionCore

// conv2d = F.conv2d, with reflect padding meaning F.pad(mode: "reflect") then an unpadded conv.
//
// Six paths:
//  * pointwise (1x1, stride 1, no padding): one GEMM per (sample, group, band), no im2col
//    (PointwiseProduct.swift: C for few channels, OpenBLAS otherwise);
//  * depthwise (groups == C == O): direct loops over output rows (stride 1 up to 7x7 in C,
//    DepthwiseRows.swift);
//  * stride 1 with at most 4 output or 4 input channels: direct rows (DirectConv.swift);
//    the executable runs a 1x1 conv that only feeds one inside it (PointwiseThenConv.swift);
//  * stride 1 with few channels per group (<= 48 x 48): "shifted" GEMMs. A band of padded
//    input rows is built once, then each output row is the sum over taps of
//    W[:, :, ky, kx] (O x C) times a shifted view of the band (C x Wo), no im2col at all;
//  * 3x3 stride 1 single-group convs with enough channels and pixels: Winograd F(4x4,3x3)
//    (WinogradConv.swift), with the transformed kernels cached per constant weight;
//  * everything else: im2col per group in tiles of output pixels (the column buffer stays a
//    few MiB per worker, at most 64 MiB in all) followed by a GEMM per tile.
// Tiles / bands run in parallel, each worker calling single-threaded GEMMs on its own buffer.

/// Index into a dimension of size `n` for padded coordinate `i`, or -1 for a zero sample.
/// Reflection is PyTorch's (no edge repeat).
@inline(__always)
func paddedIndex(_ i: Int, _ n: Int, reflect: Bool) -> Int {
    if i >= 0 && i < n { return i }
    if !reflect { return -1 }
    if n == 1 { return 0 }
    let period = 2 * (n - 1)
    var j = i % period
    if j < 0 { j += period }
    return j < n ? j : period - j
}

/// The outputs `ox` in `0..<count` whose source `ox * stride + offset` lies inside `0..<size`.
@inline(__always)
func validRange(count: Int, stride s: Int, offset off: Int, size n: Int) -> (lo: Int, hi: Int) {
    var lo = off < 0 ? (-off + s - 1) / s : 0
    var hi = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1
    lo = min(lo, count)
    hi = min(hi, count)
    return (lo, max(lo, hi))
}

/// `dst[ox - ox0] = src[ox * s + off]` for `ox` in `ox0..<ox1`, with padding outside the row.
@inline(__always)
func gatherRow(_ dst: UnsafeMutablePointer<Float>, _ ox0: Int, _ ox1: Int, src: UnsafePointer<Float>, width: Int,
               stride s: Int, offset off: Int, validLo lo: Int, validHi hi: Int, reflect: Bool) {
    let a = max(ox0, min(lo, ox1)), b = max(a, min(hi, ox1))
    var ox = ox0
    while ox < a {
        let ix = paddedIndex(ox * s + off, width, reflect: reflect)
        dst[ox - ox0] = ix >= 0 ? src[ix] : 0
        ox += 1
    }
    if b > a {
        if s == 1 {
            (dst + (a - ox0)).update(from: src + (a + off), count: b - a)
        } else {
            let d = dst - ox0
            for o in a..<b { d[o] = src[o &* s &+ off] }
        }
    }
    ox = b
    while ox < ox1 {
        let ix = paddedIndex(ox * s + off, width, reflect: reflect)
        dst[ox - ox0] = ix >= 0 ? src[ix] : 0
        ox += 1
    }
}

/// `dst[ox] += w * src[ox * s + off]` for the whole output row of `count`, with padding.
@inline(__always)
func accumulateRow(_ dst: UnsafeMutablePointer<Float>, count: Int, src: UnsafePointer<Float>, width: Int,
                   stride s: Int, offset off: Int, weight w: Float, reflect: Bool) {
    let (lo, hi) = validRange(count: count, stride: s, offset: off, size: width)
    if reflect {
        for ox in 0..<lo { dst[ox] += w * src[paddedIndex(ox * s + off, width, reflect: true)] }
        for ox in hi..<count { dst[ox] += w * src[paddedIndex(ox * s + off, width, reflect: true)] }
    }
    if hi > lo {
        if s == 1 {
            let sp = src + off
            for ox in lo..<hi { dst[ox] += w * sp[ox] }
        } else {
            for ox in lo..<hi { dst[ox] += w * src[ox &* s &+ off] }
        }
    }
}

struct Conv2DProblem {
    let n, c, h, w: Int          // input
    let o, cg, kh, kw: Int       // weight
    let ho, wo: Int              // output size
    let groups: Int
    let sh, sw, dh, dw: Int
    let pt, pl: Int
    let reflect: Bool

    init(_ a: Conv2DAttributes, x: [Int], weight: [Int], out: [Int]) {
        n = x[0]; c = x[1]; h = x[2]; w = x[3]
        o = weight[0]; cg = weight[1]; kh = weight[2]; kw = weight[3]
        ho = out[2]; wo = out[3]
        groups = a.groups
        sh = a.stride.0; sw = a.stride.1; dh = a.dilation.0; dw = a.dilation.1
        pt = a.padding.0; pl = a.padding.2
        reflect = a.paddingMode == .reflect
    }

    var og: Int { o / groups }
}

func conv2d(_ attrs: Conv2DAttributes, x: UnsafePointer<Float>, xShape: [Int],
            weight: UnsafePointer<Float>, wShape: [Int], bias: UnsafePointer<Float>?,
            out: UnsafeMutablePointer<Float>, outShape: [Int], ctx: KernelContext) {
    let p = Conv2DProblem(attrs, x: xShape, weight: wShape, out: outShape)
    let plane = p.ho * p.wo
    if p.n * p.o * plane == 0 { return }
    let pointwise = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1
        && attrs.padding == (0, 0, 0, 0)
    if p.cg == 0 {
        fillBias(out, p, bias, ctx: ctx)
    } else if pointwise {
        conv2dPointwise(p, x: x, weight: weight, bias: bias, out: out, ctx: ctx)
    } else if p.cg == 1 && p.og == 1 {
        conv2dDepthwise(p, x: x, weight: weight, bias: bias, out: out, ctx: ctx)
    } else if DirectConv.applies(p) {
        DirectConv.run(p, x: x, weight: weight, bias: bias, out: out, ctx: ctx)
    } else if ctx.winograd, let variant = WinogradConv.variant(for: p) {
        conv2dWinograd(p, variant: variant, x: x, weight: weight, bias: bias, out: out, ctx: ctx)
    } else if ShiftedConv.applies(p) {
        conv2dShifted(p, x: x, weight: weight, bias: bias, out: out, ctx: ctx)
    } else {
        conv2dIm2col(p, x: x, weight: weight, bias: bias, out: out, ctx: ctx)
    }
}

/// Output = bias (or zeros) per channel plane.
private func fillBias(_ out: UnsafeMutablePointer<Float>, _ p: Conv2DProblem, _ bias: UnsafePointer<Float>?, ctx: KernelContext) {
    let plane = p.ho * p.wo
    parallelFor(p.n * p.o, threads: ctx.threads) { i in
        (out + i * plane).update(repeating: bias?[i % p.o] ?? 0, count: plane)
    }
}

/// Adds `bias[channel]` to every plane of an [N, O, plane] output.
private func addBias(_ out: UnsafeMutablePointer<Float>, n: Int, o: Int, plane: Int, _ bias: UnsafePointer<Float>, ctx: KernelContext) {
    parallelFor(n * o, threads: ctx.threads, grain: max(1, (1 << 15) / max(plane, 1))) { i in
        let b = bias[i % o]
        let row = out + i * plane
        for j in 0..<plane { row[j] += b }
    }
}

/// Pointwise conv as GEMMs over bands of whole output rows. Each task multiplies W by its
/// band's pixel columns (a product small enough for OpenBLAS's unpacked small-matrix
/// kernels) and at once finishes the band's rows, bias and epilogue, while they are in
/// cache: the result is written once instead of written, then read and written again by a
/// separate bias or epilogue pass.
func conv2dPointwise(_ p: Conv2DProblem, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                     bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                     finish: EpilogueRows? = nil, ctx: KernelContext) {
    let hw = p.h * p.w, og = p.og
    let rows = finish ?? bias.map { EpilogueRows(.none, out: out, shape: [p.n, p.o, p.ho, p.wo], operands: [], channelBias: $0) }
    let bandRows = PointwiseBands.rows(outputChannelsPerGroup: og, inputChannelsPerGroup: p.cg, height: p.ho, width: p.wo)
    let bands = (p.ho + bandRows - 1) / bandRows
    parallelGEMMTasks(p.n * p.groups * bands, threads: ctx.threads) { _, t in
        let band = t % bands, ng = t / bands
        let n = ng / p.groups, g = ng % p.groups
        let y0 = band * bandRows, y1 = min(p.ho, y0 + bandRows)
        let column = y0 * p.w
        PointwiseProduct.multiply(m: og, n: (y1 - y0) * p.w, k: p.cg, a: weight + g * og * p.cg, lda: p.cg,
                                  b: x + (n * p.c + g * p.cg) * hw + column, ldb: hw,
                                  c: out + (n * p.o + g * og) * hw + column, ldc: hw)
        guard let rows else { return }
        for o in (g * og)..<((g + 1) * og) {
            let first = (n * p.o + o) * p.ho
            for y in y0..<y1 { rows.apply(row: first + y) }
        }
    }
}

private func conv2dDepthwise(_ p: Conv2DProblem, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    if DepthwiseRows.applies(p) {
        DepthwiseRows.run(p, x: x, weight: weight, bias: bias, out: out, ctx: ctx)
        return
    }
    let planes = p.n * p.c
    // Bands of output rows so that small batches of large planes still use every thread.
    let bandRows = max(1, min(p.ho, (1 << 16) / max(1, p.wo * p.kh * p.kw)))
    let bands = (p.ho + bandRows - 1) / bandRows
    parallelFor(planes * bands, threads: ctx.threads) { t in
        let plane = t / bands, band = t % bands
        let c = plane % p.c
        let src = x + plane * p.h * p.w
        let dst = out + plane * p.ho * p.wo
        let wk = weight + c * p.kh * p.kw
        let b = bias?[c] ?? 0
        let y0 = band * bandRows, y1 = min(p.ho, y0 + bandRows)
        for oy in y0..<y1 {
            let row = dst + oy * p.wo
            row.update(repeating: b, count: p.wo)
            for ky in 0..<p.kh {
                let iy = paddedIndex(oy * p.sh - p.pt + ky * p.dh, p.h, reflect: p.reflect)
                if iy < 0 { continue }
                let srow = src + iy * p.w
                let wr = wk + ky * p.kw
                if p.kw == 3 && p.sw == 1 {
                    accumulateRow3(row, count: p.wo, src: srow, width: p.w, offset: -p.pl, dilation: p.dw,
                                   weights: (wr[0], wr[1], wr[2]), reflect: p.reflect)
                    continue
                }
                if p.kw == 5 && p.sw == 1 {
                    accumulateRow5(row, count: p.wo, src: srow, width: p.w, offset: -p.pl, dilation: p.dw,
                                   weights: (wr[0], wr[1], wr[2], wr[3], wr[4]), reflect: p.reflect)
                    continue
                }
                for kx in 0..<p.kw {
                    accumulateRow(row, count: p.wo, src: srow, width: p.w, stride: p.sw,
                                  offset: kx * p.dw - p.pl, weight: wr[kx], reflect: p.reflect)
                }
            }
        }
    }
}

/// Three horizontal taps (stride 1) in one pass:
/// `dst[ox] += w0 * src[ox + off] + w1 * src[ox + off + d] + w2 * src[ox + off + 2d]`.
@inline(__always)
private func accumulateRow3(_ dst: UnsafeMutablePointer<Float>, count: Int, src: UnsafePointer<Float>, width: Int,
                            offset off: Int, dilation d: Int, weights: (Float, Float, Float), reflect: Bool) {
    let (w0, w1, w2) = weights
    // Outputs whose three taps are all inside the row.
    let lo = min(count, max(0, -off)), hi = max(lo, min(count, width - off - 2 * d))
    @inline(__always) func tap(_ i: Int) -> Float {
        let j = paddedIndex(i, width, reflect: reflect)
        return j >= 0 ? src[j] : 0
    }
    for ox in 0..<lo { dst[ox] += w0 * tap(ox + off) + w1 * tap(ox + off + d) + w2 * tap(ox + off + 2 * d) }
    if hi > lo {
        let s0 = src + off, s1 = s0 + d, s2 = s1 + d
        for ox in lo..<hi { dst[ox] += w0 * s0[ox] + w1 * s1[ox] + w2 * s2[ox] }
    }
    for ox in hi..<count { dst[ox] += w0 * tap(ox + off) + w1 * tap(ox + off + d) + w2 * tap(ox + off + 2 * d) }
}

/// Five horizontal taps (stride 1) in one pass (TextFusion's depthwise 5x5), summed in tap
/// order as five `accumulateRow` passes would: `dst[ox] += w0 * src[ox + off] + ...`.
@inline(__always)
private func accumulateRow5(_ dst: UnsafeMutablePointer<Float>, count: Int, src: UnsafePointer<Float>, width: Int,
                            offset off: Int, dilation d: Int, weights: (Float, Float, Float, Float, Float), reflect: Bool) {
    let (w0, w1, w2, w3, w4) = weights
    let lo = min(count, max(0, -off)), hi = max(lo, min(count, width - off - 4 * d))
    @inline(__always) func tap(_ i: Int) -> Float {
        let j = paddedIndex(i, width, reflect: reflect)
        return j >= 0 ? src[j] : 0
    }
    @inline(__always) func edge(_ ox: Int) {
        var v = dst[ox]
        v += w0 * tap(ox + off); v += w1 * tap(ox + off + d); v += w2 * tap(ox + off + 2 * d)
        v += w3 * tap(ox + off + 3 * d); v += w4 * tap(ox + off + 4 * d)
        dst[ox] = v
    }
    for ox in 0..<lo { edge(ox) }
    if hi > lo {
        let s0 = src + off, s1 = s0 + d, s2 = s1 + d, s3 = s2 + d, s4 = s3 + d
        for ox in lo..<hi {
            var v = dst[ox]
            v += w0 * s0[ox]; v += w1 * s1[ox]; v += w2 * s2[ox]; v += w3 * s3[ox]; v += w4 * s4[ox]
            dst[ox] = v
        }
    }
    for ox in hi..<count { edge(ox) }
}

/// Column-buffer limits of the im2col path.
enum Im2colTiling {
    /// Target column-buffer size per worker.
    static let perWorkerBytes = 2 << 20
    /// GEMM column block: OpenBLAS multiplies products of at most ~1e6 multiply-adds with
    /// kernels that skip packing, which is much faster when the weights are a short matrix
    /// (few output channels). Wider products use the packed path on the whole tile.
    static func gemmColumns(m: Int, k: Int, tile: Int) -> Int {
        let n = min(256, 1_000_000 / max(1, m * k) / 32 * 32)
        return n >= 96 ? n : tile
    }
    /// Hard cap on all column buffers together.
    static let totalBytes = 64 << 20
    /// Fewest output pixels per tile (so each GEMM amortises packing the weights).
    static let minPixels = 1024

    /// Output pixels per tile for a K-row column matrix.
    static func tilePixels(k: Int, plane: Int, planes: Int, threads: Int) -> Int {
        let rowBytes = max(1, k * MemoryLayout<Float>.stride)
        var t = max(perWorkerBytes / rowBytes, min(plane, minPixels))
        t = min(t, max(1, totalBytes / (max(1, threads) * rowBytes)))
        t = max(1, min(t, plane))
        // Enough tiles to keep every thread busy.
        let tiles = planes * ((plane + t - 1) / t)
        if tiles < threads && plane > 1 {
            let perPlane = (threads + planes - 1) / planes
            t = max(1, (plane + perPlane - 1) / perPlane)
        }
        return t
    }
}

private func conv2dIm2col(_ p: Conv2DProblem, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                          bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let plane = p.ho * p.wo
    let khw = p.kh * p.kw
    let k = p.cg * khw
    let og = p.og
    // Tiles from one sample's planes (not the batch's), so that a sample's GEMMs, and so
    // its rounding, are the same in a batch as alone.
    let tile = Im2colTiling.tilePixels(k: k, plane: plane, planes: p.groups, threads: ctx.threads)
    let tilesPerPlane = (plane + tile - 1) / tile
    let tasks = p.n * p.groups * tilesPerPlane
    let workers = workerCount(tasks, threads: ctx.threads)
    let columns = ctx.scratch.floats(workers * k * tile)
    let hw = p.h * p.w
    let blockColumns = Im2colTiling.gemmColumns(m: og, k: k, tile: tile)

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, t in
        let ng = t / tilesPerPlane, ti = t % tilesPerPlane
        let n = ng / p.groups, g = ng % p.groups
        let p0 = ti * tile, p1 = min(plane, p0 + tile)
        let cols = p1 - p0
        let col = columns + worker * k * tile
        let xg = x + (n * p.c + g * p.cg) * hw

        im2colTile(p, xg, p0: p0, p1: p1, col)

        let dst = out + (n * p.o + g * og) * plane + p0
        var j = 0
        while j < cols {
            let nb = min(blockColumns, cols - j)
            sgemm(m: og, n: nb, k: k, a: weight + g * og * k, lda: k, b: col + j, ldb: cols, c: dst + j, ldc: plane)
            j += nb
        }
        if let bias {
            for o in 0..<og {
                let b = bias[g * og + o]
                let row = dst + o * plane
                for j in 0..<cols { row[j] += b }
            }
        }
    }
}

/// Fills the column matrix [Cg*kh*kw, p1-p0] for output pixels p0..<p1 (flat over Ho x Wo) of
/// one group: row (c, ky, kx) holds that tap of channel c for every pixel.
func im2colTile(_ p: Conv2DProblem, _ xg: UnsafePointer<Float>, p0: Int, p1: Int, _ col: UnsafeMutablePointer<Float>) {
    let cols = p1 - p0
    let hw = p.h * p.w
    for c in 0..<p.cg {
        let srcPlane = xg + c * hw
        for ky in 0..<p.kh {
            for kx in 0..<p.kw {
                let r = (c * p.kh + ky) * p.kw + kx
                let dstRow = col + r * cols
                let off = kx * p.dw - p.pl
                let (lo, hi) = validRange(count: p.wo, stride: p.sw, offset: off, size: p.w)
                var q = p0
                while q < p1 {
                    let oy = q / p.wo
                    let ox0 = q - oy * p.wo
                    let ox1 = min(p.wo, ox0 + (p1 - q))
                    let dst = dstRow + (q - p0)
                    let iy = paddedIndex(oy * p.sh - p.pt + ky * p.dh, p.h, reflect: p.reflect)
                    if iy < 0 {
                        dst.update(repeating: 0, count: ox1 - ox0)
                    } else {
                        gatherRow(dst, ox0, ox1, src: srcPlane + iy * p.w, width: p.w, stride: p.sw,
                                  offset: off, validLo: lo, validHi: hi, reflect: p.reflect)
                    }
                    q += ox1 - ox0
                }
            }
        }
    }
}

/// Limits of the shifted-GEMM path.
enum ShiftedConv {
    /// Padded input band per worker.
    static let bandBytes = 1 << 20

    /// Stride 1, a real spatial kernel, and a weight matrix small enough (per tap) that each
    /// row product stays in OpenBLAS's unpacked small-matrix kernels; enough input channels
    /// that a per-tap GEMM is not degenerate.
    static func applies(_ p: Conv2DProblem) -> Bool {
        p.sh == 1 && p.sw == 1 && p.kh * p.kw > 1 && p.cg >= 16 && p.og * p.cg <= 48 * 48
    }
}

private func conv2dShifted(_ p: Conv2DProblem, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let taps = p.kh * p.kw
    let og = p.og, cg = p.cg
    let plane = p.ho * p.wo, hw = p.h * p.w
    let wp = p.wo + (p.kw - 1) * p.dw          // padded row width actually read
    let extraRows = (p.kh - 1) * p.dh
    let rowFloats = cg * wp
    let bandRows = max(1, min(p.ho, ShiftedConv.bandBytes / (rowFloats * MemoryLayout<Float>.stride) - extraRows))
    let bands = (p.ho + bandRows - 1) / bandRows
    let tasks = p.n * p.groups * bands
    let workers = workerCount(tasks, threads: ctx.threads)
    let bandFloats = cg * (bandRows + extraRows) * wp
    let weightFloats = p.o * cg * taps
    let buffer = ctx.scratch.floats(weightFloats + workers * bandFloats)
    // Weights as [tap][O][Cg] so each tap is a contiguous O x Cg matrix.
    let wt = buffer
    for o in 0..<p.o {
        for c in 0..<cg {
            for t in 0..<taps { wt[(t * p.o + o) * cg + c] = weight[(o * cg + c) * taps + t] }
        }
    }
    let bandBase = buffer + weightFloats
    // Column chunks keep each product within OpenBLAS's small-matrix size.
    let chunk = min(p.wo, max(128, 1_000_000 / max(1, og * cg)))
    let (lo, hi) = validRange(count: wp, stride: 1, offset: -p.pl, size: p.w)

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, t in
        let ng = t / bands, bi = t % bands
        let n = ng / p.groups, g = ng % p.groups
        let y0 = bi * bandRows, y1 = min(p.ho, y0 + bandRows)
        let rowsIn = (y1 - y0) + extraRows
        let band = bandBase + worker * bandFloats
        let channelStride = rowsIn * wp
        let xg = x + (n * p.c + g * cg) * hw

        // Padded input rows y0 - pt ..< y0 - pt + rowsIn of every channel of the group.
        for c in 0..<cg {
            let src = xg + c * hw
            for r in 0..<rowsIn {
                let dst = band + c * channelStride + r * wp
                let iy = paddedIndex(y0 - p.pt + r, p.h, reflect: p.reflect)
                if iy < 0 {
                    dst.update(repeating: 0, count: wp)
                } else {
                    gatherRow(dst, 0, wp, src: src + iy * p.w, width: p.w, stride: 1, offset: -p.pl,
                              validLo: lo, validHi: hi, reflect: p.reflect)
                }
            }
        }

        let outG = out + (n * p.o + g * og) * plane
        for y in y0..<y1 {
            var j = 0
            while j < p.wo {
                let cols = min(chunk, p.wo - j)
                let dst = outG + y * p.wo + j
                for ky in 0..<p.kh {
                    for kx in 0..<p.kw {
                        let tap = ky * p.kw + kx
                        sgemm(m: og, n: cols, k: cg, a: wt + (tap * p.o + g * og) * cg, lda: cg,
                              b: band + (y - y0 + ky * p.dh) * wp + kx * p.dw + j, ldb: channelStride,
                              beta: tap == 0 ? 0 : 1, c: dst, ldc: plane)
                    }
                }
                if let bias {
                    for o in 0..<og {
                        let b = bias[g * og + o]
                        let row = dst + o * plane
                        for i in 0..<cols { row[i] += b }
                    }
                }
                j += cols
            }
        }
    }
}
