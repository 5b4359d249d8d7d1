import FusionCore

/// PyTorch `ConvTranspose2d` on x [N,Cin,H,W] with weight [Cin, Cout/groups, kh, kw].
///
/// Per sample, group and band of input rows: one GEMM gives every tap's contribution,
/// `cols[co * kh * kw + ky * kw + kx, pixel] = sum_ci W[ci, co, ky, kx] x[ci, pixel]`, and a
/// scatter (col2im) adds each to output (iy * stride - padding + ky, ix * stride - padding + kx),
/// output channels in parallel, on top of the bias. With kernel == stride and no padding
/// (RFC's and CLIPSeg's 4x4 stride-4 upsamplers) taps never overlap and the scatter is a copy.
func convTranspose2d(_ a: ConvTranspose2DAttributes, x: UnsafePointer<Float>, xShape: [Int], weight: UnsafePointer<Float>,
                     wShape: [Int], bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, outShape: [Int],
                     ctx: KernelContext) {
    let n = xShape[0], c = xShape[1], h = xShape[2], w = xShape[3]
    let og = wShape[1], kh = wShape[2], kw = wShape[3]
    let groups = a.groups, cg = c / groups, o = outShape[1], ho = outShape[2], wo = outShape[3]
    let (sy, sx) = a.stride, (py, px) = a.padding
    let taps = kh * kw, rowsPerTap = og * taps
    if n * o * ho * wo == 0 { return }
    // Bias (or zero) first; the taps add to it.
    parallelFor(n * o, threads: ctx.threads, grain: max(1, 8192 / max(1, ho * wo))) { plane in
        out.advanced(by: plane * ho * wo).update(repeating: bias?[plane % o] ?? 0, count: ho * wo)
    }
    if cg == 0 { return }
    // Bands of input rows so the columns stay near 16 MiB.
    let band = max(1, min(h, (4 << 20) / max(1, rowsPerTap * w)))
    let cols = ctx.scratch.floats(rowsPerTap * band * w)
    let disjoint = kh == sy && kw == sx && py == 0 && px == 0
    for b in 0..<n {
        for g in 0..<groups {
            for y0 in stride(from: 0, to: h, by: band) {
                let rows = min(band, h - y0), pixels = rows * w
                // cols [og * taps, pixels] = W_g^T [og * taps, cg] x X_g [cg, pixels]
                sgemm(transA: true, m: rowsPerTap, n: pixels, k: cg,
                      a: weight + g * cg * rowsPerTap, lda: rowsPerTap,
                      b: x + ((b * c + g * cg) * h + y0) * w, ldb: h * w,
                      c: cols, ldc: pixels)
                parallelFor(og, threads: ctx.threads) { j in
                    let plane = out + ((b * o + g * og + j) * ho) * wo
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            let src = UnsafePointer(cols + ((j * kh + ky) * kw + kx) * pixels)
                            for r in 0..<rows {
                                let oy = (y0 + r) * sy - py + ky
                                if oy < 0 || oy >= ho { continue }
                                let row = plane + oy * wo, srcRow = src + r * w
                                if disjoint {
                                    // Columns kx, kx + s, ...: every output written once.
                                    var ox = kx
                                    for ix in 0..<w { row[ox] += srcRow[ix]; ox += sx }
                                } else {
                                    for ix in 0..<w {
                                        let ox = ix * sx - px + kx
                                        if ox >= 0 && ox < wo { row[ox] += srcRow[ix] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
