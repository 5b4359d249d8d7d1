import FusionCore

/// Float64 conv2d, a plain loop nest straight from `F.conv2d` (no im2col, no tiling, nothing
/// shared with either backend).
public enum ConvolutionReference64 {
    /// `F.conv2d`, with reflect padding meaning `F.pad(mode="reflect")` then a valid conv.
    /// x [N,C,H,W], weight [O, C/groups, KH, KW], bias [O].
    public static func conv2d(_ x: Float64Tensor, weight: Float64Tensor, bias: Float64Tensor?, _ a: Conv2DAttributes) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0], cg = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let groups = a.groups, stride = a.stride, dilation = a.dilation, padding = a.padding
        precondition(cg * groups == c && o % groups == 0)
        let og = o / groups
        let paddedH = h + padding.0 + padding.1, paddedW = w + padding.2 + padding.3
        let ho = (paddedH - ((kh - 1) * dilation.0 + 1)) / stride.0 + 1
        let wo = (paddedW - ((kw - 1) * dilation.1 + 1)) / stride.1 + 1
        let xv = x.data, wv = weight.data, bv = bias?.data
        var out = [Double](repeating: 0, count: n * o * ho * wo)
        for b in 0..<n {
            for oc in 0..<o {
                let g = oc / og
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var acc = bv?[oc] ?? 0
                        for ci in 0..<cg {
                            let ic = g * cg + ci
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    // Coordinates in the unpadded input.
                                    var iy = oy * stride.0 + ky * dilation.0 - padding.0
                                    var ix = ox * stride.1 + kx * dilation.1 - padding.2
                                    if a.paddingMode == .reflect {
                                        iy = Float64Indexing.reflect(iy, h)
                                        ix = Float64Indexing.reflect(ix, w)
                                    } else if iy < 0 || iy >= h || ix < 0 || ix >= w {
                                        continue
                                    }
                                    acc += xv[((b * c + ic) * h + iy) * w + ix] * wv[((oc * cg + ci) * kh + ky) * kw + kx]
                                }
                            }
                        }
                        out[((b * o + oc) * ho + oy) * wo + ox] = acc
                    }
                }
            }
        }
        return Float64Tensor(out, [n, o, ho, wo])
    }

    /// `Op.pointwiseDepthwise` as the chain it stands for: LayerNorm over channels (when
    /// `norm` is given), the 1x1 conv, then the depthwise conv, each in float64.
    public static func pointwiseDepthwise(_ x: Float64Tensor, norm: (weight: Float64Tensor, bias: Float64Tensor, eps: Double)?,
                                          pointwise: Float64Tensor, depthwise: Float64Tensor, _ a: Conv2DAttributes) -> Float64Tensor {
        let h = norm.map { ReductionReference64.layerNormChannels(x, weight: $0.weight, bias: $0.bias, eps: $0.eps) } ?? x
        let mid = conv2d(h, weight: pointwise, bias: nil, Conv2DAttributes())
        return conv2d(mid, weight: depthwise, bias: nil, a)
    }
}
