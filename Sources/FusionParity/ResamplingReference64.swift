import FusionCore

/// Float64 resize with PyTorch's conventions (`align_corners=False`, half-pixel centres):
/// source coordinates and tap weights computed in float64 (antialiased bilinear: PyTorch's
/// float32 weights, see `antialiasWeights`).
public enum ResamplingReference64 {
    /// Bicubic convolution kernel with a = -0.75 (PyTorch `upsample_bicubic2d`): weights of
    /// the taps at offsets -1, 0, 1, 2 for fractional position t in [0, 1).
    public static func cubicWeights(_ t: Double) -> [Double] {
        let a = -0.75
        func near(_ x: Double) -> Double { ((a + 2) * x - (a + 3)) * x * x + 1 }          // |x| <= 1
        func far(_ x: Double) -> Double { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }       // 1 < |x| < 2
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }

    /// Taps (index, weight) of output `dst` along an axis for `F.interpolate(mode='bilinear',
    /// antialias=True)`: ATen's `_compute_weights_aa`. PyTorch computes the scale, centre and
    /// weights of a float32 image in float32 (with double intermediates where C++ promotes),
    /// and that rounding is part of its definition (up to 2e-5 of the input range from the
    /// exact weights), so the weights follow it step by step; only the sums are float64.
    public static func antialiasWeights(_ dst: Int, _ inSize: Int, _ outSize: Int) -> [(Int, Double)] {
        let scale = Float(inSize) / Float(outSize)
        let support: Float = scale >= 1 ? scale : 1
        let invScale: Float = scale >= 1 ? Float(1.0 / Double(scale)) : 1
        let center = Float(Double(scale) * (Double(dst) + 0.5))
        let xmin = max(Int(Double(center - support) + 0.5), 0)
        let xmax = min(Int(Double(center + support) + 0.5), inSize)
        guard xmax > xmin else { return [] }
        var weights: [Float] = []
        var total: Float = 0
        for j in xmin..<xmax {
            // Triangle filter: 1 - |x| inside [-1, 1].
            let x = abs(Float((Double(Float(j) - center) + 0.5) * Double(invScale)))
            let w: Float = x < 1 ? 1 - x : 0
            weights.append(w)
            total += w
        }
        return weights.enumerated().map { (xmin + $0.offset, total != 0 ? Double($0.element / total) : 0) }
    }

    /// `F.interpolate(x, size=(height, width), mode=..., align_corners=False)` on [N,C,H,W].
    public static func resize(_ x: Float64Tensor, mode: ResizeMode, height ho: Int, width wo: Int) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        var out = [Double](repeating: 0, count: n * c * ho * wo)
        func at(_ plane: Int, _ y: Int, _ xx: Int) -> Double { x.data[(plane * h + y) * w + xx] }
        // Source coordinate of output index `dst` (half-pixel centres).
        func source(_ dst: Int, _ inSize: Int, _ outSize: Int) -> Double {
            (Double(dst) + 0.5) * Double(inSize) / Double(outSize) - 0.5
        }
        for plane in 0..<(n * c) {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var value = 0.0
                    switch mode {
                    case .nearest:
                        // PyTorch's index rule (float32 scale and product): an index, not arithmetic.
                        value = at(plane, ResizeMode.nearestIndex(oy, input: h, output: ho),
                                   ResizeMode.nearestIndex(ox, input: w, output: wo))
                    case .bilinear:
                        // Linear modes clamp negative source coordinates to 0.
                        let sy = max(source(oy, h, ho), 0), sx = max(source(ox, w, wo), 0)
                        let y0 = min(Int(sy.rounded(.down)), h - 1), x0 = min(Int(sx.rounded(.down)), w - 1)
                        let y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
                        let ly = sy - Double(y0), lx = sx - Double(x0)
                        value = (1 - ly) * ((1 - lx) * at(plane, y0, x0) + lx * at(plane, y0, x1))
                            + ly * ((1 - lx) * at(plane, y1, x0) + lx * at(plane, y1, x1))
                    case .bilinearAntialias:
                        let wy = antialiasWeights(oy, h, ho), wx = antialiasWeights(ox, w, wo)
                        for (yy, a) in wy {
                            var row = 0.0
                            for (xx, b) in wx { row += b * at(plane, yy, xx) }
                            value += a * row
                        }
                    case .bicubic:
                        // No clamp of the source coordinate; the 4 taps are clamped to the image.
                        let sy = source(oy, h, ho), sx = source(ox, w, wo)
                        let fy = Int(sy.rounded(.down)), fx = Int(sx.rounded(.down))
                        let wy = cubicWeights(sy - Double(fy)), wx = cubicWeights(sx - Double(fx))
                        for i in 0..<4 {
                            let yy = min(max(fy - 1 + i, 0), h - 1)
                            var row = 0.0
                            for j in 0..<4 { row += wx[j] * at(plane, yy, min(max(fx - 1 + j, 0), w - 1)) }
                            value += wy[i] * row
                        }
                    }
                    out[(plane * ho + oy) * wo + ox] = value
                }
            }
        }
        return Float64Tensor(out, [n, c, ho, wo])
    }
}
