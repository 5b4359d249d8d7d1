import FusionCore

extension ConvolutionReference64 {
    /// PyTorch `ConvTranspose2d` as its definition reads: every input pixel scatters
    /// `x[ci] * W[ci, co_local, ky, kx]` to output (iy * stride - padding + ky, ix * stride -
    /// padding + kx); weight [Cin, Cout/groups, kh, kw].
    public static func convTranspose2d(_ x: Float64Tensor, weight: Float64Tensor, bias: Float64Tensor?,
                                       _ a: ConvTranspose2DAttributes) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let og = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let cg = c / a.groups, o = og * a.groups
        let ho = (h - 1) * a.stride.0 - 2 * a.padding.0 + kh + a.outputPadding.0
        let wo = (w - 1) * a.stride.1 - 2 * a.padding.1 + kw + a.outputPadding.1
        let xv = x.data, wv = weight.data
        var out = [Double](repeating: 0, count: n * o * ho * wo)
        for b in 0..<n {
            for oc in 0..<o {
                let base = (b * o + oc) * ho * wo
                let value = bias?.data[oc] ?? 0
                for i in 0..<(ho * wo) { out[base + i] = value }
            }
            for ic in 0..<c {
                let g = ic / cg
                for iy in 0..<h {
                    for ix in 0..<w {
                        let v = xv[((b * c + ic) * h + iy) * w + ix]
                        for j in 0..<og {
                            let oc = g * og + j
                            for ky in 0..<kh {
                                let oy = iy * a.stride.0 - a.padding.0 + ky
                                if oy < 0 || oy >= ho { continue }
                                for kx in 0..<kw {
                                    let ox = ix * a.stride.1 - a.padding.1 + kx
                                    if ox < 0 || ox >= wo { continue }
                                    out[((b * o + oc) * ho + oy) * wo + ox] += v * wv[((ic * og + j) * kh + ky) * kw + kx]
                                }
                            }
                        }
                    }
                }
            }
        }
        return Float64Tensor(out, [n, o, ho, wo])
    }
}
