import Foundation

/// Metrics of the fused image alone: spread (SD, Variance) and sharpness (SF, AG,
/// Avg_gradient, Edge_intensity, Spatial_frequency).
enum GradientMetrics {
    /// Population standard deviation `sqrt(mean((x - mean)^2))`: evaluator `SD`
    /// (`np.std`) and VIFB `Variance` (which, despite its name, is also this square root).
    static func standardDeviation(_ p: Plane) -> Double {
        let m = p.mean
        var s = 0.0
        for v in p.values { s += (v - m) * (v - m) }
        return (s / Double(p.count)).squareRoot()
    }

    /// Evaluator `SF`: `sqrt(mean(dx^2) + mean(dy^2))`, each mean over the differences it
    /// has (`H x (W-1)` horizontal, `(H-1) x W` vertical).
    static func evaluatorSpatialFrequency(_ p: Plane) -> Double {
        let w = p.width, h = p.height
        var rows = 0.0, cols = 0.0
        for y in 0..<h {
            for x in 1..<w { let d = p[x, y] - p[x - 1, y]; rows += d * d }
        }
        for y in 1..<h {
            for x in 0..<w { let d = p[x, y] - p[x, y - 1]; cols += d * d }
        }
        return (rows / Double(h * (w - 1)) + cols / Double((h - 1) * w)).squareRoot()
    }

    /// VIFB `Spatial_frequency` on the channels laid side by side: MATLAB's `[m,n] =
    /// size(fused)` of an `H x W x C` array gives `n = W*C`, and `fused(i,j)` then walks
    /// the channels as one `H x (W*C)` image, so the horizontal differences include the two
    /// seams between channels. Both sums are divided by `H * W*C` (all pixels, not the
    /// number of differences).
    static func vifbSpatialFrequency(_ channels: [Plane]) -> Double {
        let w = channels[0].width, h = channels[0].height, c = channels.count
        var rf = 0.0, cf = 0.0
        // Row differences along the concatenated row, in MATLAB's loop order (row by row).
        for y in 0..<h {
            var previous: Double? = nil
            for ch in 0..<c {
                for x in 0..<w {
                    let v = channels[ch][x, y]
                    if let p = previous { rf += (v - p) * (v - p) }
                    previous = v
                }
            }
        }
        for ch in 0..<c {
            for x in 0..<w {
                for y in 1..<h {
                    let d = channels[ch][x, y] - channels[ch][x, y - 1]
                    cf += d * d
                }
            }
        }
        let n = Double(h * w * c)
        return (rf / n + cf / n).squareRoot()
    }

    /// The gradient of numpy's `np.gradient` and MATLAB's `gradient`: central differences
    /// `(f[i+1] - f[i-1]) / 2` inside, one-sided `f[1] - f[0]`, `f[n-1] - f[n-2]` at the
    /// ends; summed as `sqrt((gx^2 + gy^2) / 2)` over all pixels.
    static func gradientMagnitudeSum(_ p: Plane) -> Double {
        let w = p.width, h = p.height
        var s = 0.0
        for y in 0..<h {
            for x in 0..<w {
                let gx: Double = w == 1 ? 0 : (x == 0 ? p[1, y] - p[0, y]
                    : x == w - 1 ? p[w - 1, y] - p[w - 2, y] : (p[x + 1, y] - p[x - 1, y]) / 2)
                let gy: Double = h == 1 ? 0 : (y == 0 ? p[x, 1] - p[x, 0]
                    : y == h - 1 ? p[x, h - 1] - p[x, h - 2] : (p[x, y + 1] - p[x, y - 1]) / 2)
                s += ((gx * gx + gy * gy) / 2).squareRoot()
            }
        }
        return s
    }

    /// Evaluator `AG`: the mean over all `H x W` pixels.
    static func evaluatorAverageGradient(_ p: Plane) -> Double {
        gradientMagnitudeSum(p) / Double(p.count)
    }

    /// VIFB `Avg_gradient` of one channel: the same sum divided by `(H-1)(W-1)`.
    static func vifbAverageGradient(_ p: Plane) -> Double {
        gradientMagnitudeSum(p) / Double((p.height - 1) * (p.width - 1))
    }

    /// `fspecial('sobel')`: the horizontal-edge Sobel kernel.
    static let sobel: [[Double]] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]

    /// VIFB `Edge_intensity` of one channel: `imfilter` with `fspecial('sobel')` and its
    /// transpose, replicated borders (correlation), mean of `sqrt(gx^2 + gy^2)`.
    static func vifbEdgeIntensity(_ p: Plane) -> Double {
        let transposed = (0..<3).map { r in (0..<3).map { c in sobel[c][r] } }
        let gx = Filters.correlate3x3(p, kernel: sobel, border: .replicate)
        let gy = Filters.correlate3x3(p, kernel: transposed, border: .replicate)
        var s = 0.0
        for i in 0..<p.count { s += (gx.values[i] * gx.values[i] + gy.values[i] * gy.values[i]).squareRoot() }
        return s / Double(p.count)
    }
}
