import Foundation

/// SSIM in the two conventions: scikit-image's `structural_similarity` (evaluator) and the
/// MATLAB `ssim` of VIFB.
enum StructuralSimilarity {
    /// `skimage.metrics.structural_similarity(x, y, data_range=255)` with its defaults: a 7x7
    /// uniform window, sample covariances (`cov_norm = 49/48`), `K1 = 0.01`, `K2 = 0.03`,
    /// and the mean over the positions where the window lies inside the image (skimage
    /// filters the whole image with reflected borders, then crops 3 pixels on each side,
    /// so the border mode never reaches the mean).
    static func skimage(_ x: Plane, _ y: Plane) -> Double {
        let win = 7
        let w = x.width, h = x.height
        guard w >= win, h >= win else { return .nan }
        let n = Double(win * win)
        let covNorm = n / (n - 1)
        let c1 = (0.01 * 255.0) * (0.01 * 255.0)
        let c2 = (0.03 * 255.0) * (0.03 * 255.0)
        // Window sums, horizontal then vertical (exact for the integer planes used here).
        func boxSums(_ v: [Double]) -> [Double] {
            let ow = w - win + 1, oh = h - win + 1
            var tmp = [Double](repeating: 0, count: ow * h)
            for r in 0..<h {
                for c in 0..<ow {
                    var s = 0.0
                    for t in 0..<win { s += v[r * w + c + t] }
                    tmp[r * ow + c] = s
                }
            }
            var out = [Double](repeating: 0, count: ow * oh)
            for r in 0..<oh {
                for c in 0..<ow {
                    var s = 0.0
                    for t in 0..<win { s += tmp[(r + t) * ow + c] }
                    out[r * ow + c] = s
                }
            }
            return out
        }
        let xs = x.values, ys = y.values
        let sx = boxSums(xs), sy = boxSums(ys)
        let sxx = boxSums(xs.map { $0 * $0 }), syy = boxSums(ys.map { $0 * $0 })
        let sxy = boxSums((0..<xs.count).map { xs[$0] * ys[$0] })
        var total = 0.0
        for i in 0..<sx.count {
            let ux = sx[i] / n, uy = sy[i] / n
            let vx = covNorm * (sxx[i] / n - ux * ux)
            let vy = covNorm * (syy[i] / n - uy * uy)
            let vxy = covNorm * (sxy[i] / n - ux * uy)
            let a1 = 2 * ux * uy + c1, a2 = 2 * vxy + c2
            let b1 = ux * ux + uy * uy + c1, b2 = vx + vy + c2
            total += (a1 * a2) / (b1 * b2)
        }
        return total / Double(sx.count)
    }

    /// VIFB's `ssim(img1, fused)`: `fspecial('gaussian', 11, 1.5)` normalised,
    /// `filter2(w, ., 'valid')`, `C1 = (0.01*255)^2`, `C2 = (0.03*255)^2`, population
    /// (weighted) variances, `mean2` of the map.
    static func matlab(_ a: Plane, _ b: Plane) -> Double {
        let g = Filters.normalisedGaussian(size: 11, sigma: 1.5)
        let c1 = (0.01 * 255.0) * (0.01 * 255.0)
        let c2 = (0.03 * 255.0) * (0.03 * 255.0)
        let ua = Filters.correlateValid(a, kernel: g)
        let ub = Filters.correlateValid(b, kernel: g)
        let saa = Filters.correlateValid(a.map { $0 * $0 }, kernel: g)
        let sbb = Filters.correlateValid(b.map { $0 * $0 }, kernel: g)
        let sab = Filters.correlateValid(Plane.zip(a, b, *), kernel: g)
        guard ua.count > 0 else { return .nan }
        var total = 0.0
        for i in 0..<ua.count {
            let ma = ua.values[i], mb = ub.values[i]
            let va = saa.values[i] - ma * ma, vb = sbb.values[i] - mb * mb, vab = sab.values[i] - ma * mb
            total += ((2 * ma * mb + c1) * (2 * vab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
        }
        return total / Double(ua.count)
    }
}
