import CCPUKernels
import FusionCore

// pointwiseDepthwise = conv2d(conv2d(layerNormChannels(x), pointwise 1x1), depthwise), the
// q/k/v projection of a Restormer block, without storing the norm or the 1x1 output.
//
// Work goes in bands of output rows (per sample). For a band the kernel takes the input
// rows its depthwise taps reach (band plus halo, clipped to the image), normalises them
// into a per-worker buffer (same Double arithmetic as `layerNormChannels`, so the same
// floats), multiplies by the 1x1 weight with one GEMM into a second per-worker buffer, and
// runs the depthwise taps from that buffer, treating rows and columns outside the image as
// zero. Both buffers are sized to stay in the cache, so the intermediates never reach
// memory; the price is recomputing the halo rows once per band.

/// The sizes of one pointwiseDepthwise node.
struct PointwiseDepthwiseProblem {
    let n, c, h, w: Int      // x
    let m: Int               // 1x1 outputs = depthwise channels
    let kh, kw: Int          // depthwise kernel
    let ho, wo: Int          // output
    let pt, pl: Int          // padding top, left

    init(x: [Int], depthwise: [Int], out: [Int], padding: (Int, Int, Int, Int)) {
        n = x[0]; c = x[1]; h = x[2]; w = x[3]
        m = depthwise[0]; kh = depthwise[2]; kw = depthwise[3]
        ho = out[2]; wo = out[3]
        pt = padding.0; pl = padding.2
    }

    /// Input rows output rows `y0..<y1` read, clipped to the image (may be empty).
    func inputRows(_ y0: Int, _ y1: Int) -> Range<Int> {
        let r0 = max(0, y0 - pt), r1 = min(h, y1 - 1 - pt + kh)
        return r0..<max(r0, r1)
    }

    /// Rows of one 1x1 GEMM: the unfused pointwise conv's band (`PointwiseBands`). The 1x1
    /// outputs are computed in GEMMs over exactly the unfused conv's bands of rows (aligned
    /// to multiples of this), because OpenBLAS's small-matrix kernels round a product's
    /// column tail differently: the fused node then gives the unfused chain's bits.
    var gemmRows: Int { PointwiseBands.rows(outputChannelsPerGroup: m, inputChannelsPerGroup: c, height: h, width: w) }

    /// `rows` widened to whole GEMM bands (clipped to the image).
    func alignedRows(_ rows: Range<Int>) -> Range<Int> {
        guard !rows.isEmpty else { return rows }
        let b = gemmRows
        return (rows.lowerBound / b * b)..<min(h, (rows.upperBound + b - 1) / b * b)
    }

    /// How many bands of output rows each sample is cut into: the band's normalised rows and
    /// 1x1 outputs together about 1 MiB (at least 8 rows: the halo is recomputed per band),
    /// a couple of bands per thread.
    func bands(threads: Int) -> Int {
        if ho <= 1 { return 1 }
        let rowBytes = max(1, (c + m) * w * MemoryLayout<Float>.stride)
        var rows = max(8, (1 << 20) / rowBytes - (kh - 1))
        let wanted = (threads * 2 + n - 1) / max(n, 1)
        if wanted > 1 { rows = min(rows, max(4, (ho + wanted - 1) / wanted)) }
        return max(1, (ho + rows - 1) / max(1, rows))
    }

    /// Output rows of band `b` of `bands` (spread evenly, so none is short).
    func bandRange(_ b: Int, of bands: Int) -> Range<Int> { (b * ho / bands)..<((b + 1) * ho / bands) }
}

/// x [N,C,H,W] -> [N,M,Ho,Wo]; `norm` is the LayerNorm's (eps, weight [C], bias [C]),
/// `pointwise` the 1x1 weight [M,C], `depthwise` the [M,kh,kw] taps.
func pointwiseDepthwise(norm: (eps: Float, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>)?,
                        x: UnsafePointer<Float>, pointwise: UnsafePointer<Float>, depthwise: UnsafePointer<Float>,
                        _ p: PointwiseDepthwiseProblem, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    if p.n * p.m * p.ho * p.wo == 0 { return }
    let plane = p.h * p.w, outPlane = p.ho * p.wo
    if p.c == 0 || plane == 0 {
        out.update(repeating: 0, count: p.n * p.m * outPlane)
        return
    }
    let bands = p.bands(threads: ctx.threads)
    let maxRows = min(p.h, (p.ho + bands - 1) / bands + p.kh - 1 + 2 * (p.gemmRows - 1))
    let tasks = p.n * bands
    let workers = workerCount(tasks, threads: ctx.threads)
    // Per worker: normalised rows (floats, C x rows x W), 1x1 outputs (M x rows x W), and
    // the norm's per-pixel mean and 1/std (doubles, rows x W each).
    let normFloats = norm == nil ? 0 : p.c * maxRows * p.w
    let midFloats = p.m * maxRows * p.w
    let statBytes = norm == nil ? 0 : 2 * maxRows * p.w * MemoryLayout<Double>.stride
    // The C depthwise kernel's padded rows (`DepthwiseRows`).
    let inC = DepthwiseRows.takes(kh: p.kh, kw: p.kw)
    let rowFloats = inC ? ((p.ho + bands - 1) / bands + p.kh - 1) * (p.wo + p.kw - 1) : 0
    let floatBytes = (normFloats + midFloats + rowFloats) * MemoryLayout<Float>.stride
    let perWorker = (floatBytes + statBytes + 63) / 64 * 64
    let scratch = ctx.scratch.bytes(workers * perWorker)

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, t in
        let ni = t / bands, band = p.bandRange(t % bands, of: bands), y0 = band.lowerBound, y1 = band.upperBound
        let dst = out + ni * p.m * outPlane
        let rows = p.inputRows(y0, y1), aligned = p.alignedRows(rows)
        let base = scratch + worker * perWorker
        let normed = base.assumingMemoryBound(to: Float.self)
        let mid = normed + normFloats
        let count = aligned.count * p.w
        if count > 0 {
            let src = x + ni * p.c * plane + aligned.lowerBound * p.w
            var b = src, ldb = plane
            if let norm {
                let stats = (base + floatBytes).assumingMemoryBound(to: Double.self)
                normaliseRows(eps: norm.eps, weight: norm.weight, bias: norm.bias, x: src, stride: plane, c: p.c,
                              count: count, out: normed, mean: stats, rstd: stats + count)
                b = UnsafePointer(normed)
                ldb = count
            }
            for r in stride(from: aligned.lowerBound, to: aligned.upperBound, by: p.gemmRows) {
                let column = (r - aligned.lowerBound) * p.w, n = (min(aligned.upperBound, r + p.gemmRows) - r) * p.w
                PointwiseProduct.multiply(m: p.m, n: n, k: p.c, a: pointwise, lda: p.c, b: b + column, ldb: ldb, c: mid + column, ldc: count)
            }
        }
        if inC {
            // The unfused depthwise conv's kernel, so the sums are its sums: the band's 1x1
            // outputs as an image whose row 0 is `aligned.lowerBound` (the rows the band
            // reads outside it are outside the real image: zeros).
            var problem = fk_conv_problem(c: 1, h: Int32(aligned.count), w: Int32(p.w), o: 1, kh: Int32(p.kh), kw: Int32(p.kw),
                                          ho: Int32(p.ho), wo: Int32(p.wo), pt: Int32(p.pt + aligned.lowerBound), pl: Int32(p.pl), reflect: 0)
            let rowScratch = mid + midFloats
            for mi in 0..<p.m {
                fk_depthwise_rows(&problem, mid + mi * count, depthwise + mi * p.kh * p.kw, 0, dst + mi * outPlane,
                                  Int32(y0), Int32(y1), rowScratch)
            }
            return
        }
        for mi in 0..<p.m {
            let taps = depthwise + mi * p.kh * p.kw
            let channel = mid + mi * count
            for oy in y0..<y1 {
                let row = dst + mi * outPlane + oy * p.wo
                row.update(repeating: 0, count: p.wo)
                for ky in 0..<p.kh {
                    let iy = oy - p.pt + ky
                    if iy < rows.lowerBound || iy >= rows.upperBound { continue }   // outside the image: zero
                    depthwiseRow(row, count: p.wo, src: UnsafePointer(channel + (iy - aligned.lowerBound) * p.w), width: p.w,
                                 offset: -p.pl, taps: taps + ky * p.kw, kw: p.kw)
                }
            }
        }
    }
}

/// LayerNorm over channels of `count` consecutive pixels of x (channel stride `stride`)
/// into `out` [C, count], as `layerNormChannels` computes it (two-pass Double statistics,
/// biased variance, eps inside the square root, one rounding).
private func normaliseRows(eps: Float, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                           x: UnsafePointer<Float>, stride: Int, c: Int, count: Int, out: UnsafeMutablePointer<Float>,
                           mean: UnsafeMutablePointer<Double>, rstd: UnsafeMutablePointer<Double>) {
    let invC = 1.0 / Double(c), epsD = Double(eps)
    mean.update(repeating: 0, count: count)
    for ci in 0..<c {
        let row = x + ci * stride
        for i in 0..<count { mean[i] += Double(row[i]) }
    }
    for i in 0..<count { mean[i] *= invC }
    rstd.update(repeating: 0, count: count)
    for ci in 0..<c {
        let row = x + ci * stride
        for i in 0..<count { let d = Double(row[i]) - mean[i]; rstd[i] += d * d }
    }
    for i in 0..<count { rstd[i] = 1 / (rstd[i] * invC + epsD).squareRoot() }
    for ci in 0..<c {
        let row = x + ci * stride, dst = out + ci * count
        let w = Double(weight[ci]), b = Double(bias[ci])
        for i in 0..<count { dst[i] = Float((Double(row[i]) - mean[i]) * rstd[i] * w + b) }
    }
}

/// `dst[ox] += sum over kx of taps[kx] * src[ox + offset + kx]` for one depthwise kernel
/// row, zero outside `0..<width`; three taps summed as the depthwise conv kernel sums them.
@inline(__always)
private func depthwiseRow(_ dst: UnsafeMutablePointer<Float>, count: Int, src: UnsafePointer<Float>, width: Int,
                          offset off: Int, taps: UnsafePointer<Float>, kw: Int) {
    // Outputs whose taps all lie inside the row.
    let lo = min(count, max(0, -off)), hi = max(lo, min(count, width - off - (kw - 1)))
    @inline(__always) func tap(_ i: Int) -> Float { i >= 0 && i < width ? src[i] : 0 }
    if kw == 3 {
        let w0 = taps[0], w1 = taps[1], w2 = taps[2]
        for ox in 0..<lo { dst[ox] += w0 * tap(ox + off) + w1 * tap(ox + off + 1) + w2 * tap(ox + off + 2) }
        if hi > lo {
            let s0 = src + off, s1 = s0 + 1, s2 = s1 + 1
            for ox in lo..<hi { dst[ox] += w0 * s0[ox] + w1 * s1[ox] + w2 * s2[ox] }
        }
        for ox in hi..<count { dst[ox] += w0 * tap(ox + off) + w1 * tap(ox + off + 1) + w2 * tap(ox + off + 2) }
        return
    }
    for kx in 0..<kw {
        let wk = taps[kx], o = off + kx
        let a = min(count, max(0, -o)), b = max(a, min(count, width - o))
        if b > a {
            let s = src + o
            for ox in a..<b { dst[ox] += wk * s[ox] }
        }
    }
}
