import Foundation

/// VIFp, the pixel-domain multiscale visual information fidelity of Sheikh and Bovik, as the
/// Python evaluator computes it (`compare_viff(ref, dist)`).
enum VisualInformationFidelity {
    /// Four scales; scale `s` uses a Gaussian window of `N = 2^(5-s) + 1` taps (17, 9, 5, 3)
    /// with `sigma = N / 5`, normalised as MATLAB's `fspecial`; from the second scale on both
    /// images are first filtered with that window ('valid') and subsampled by 2. With
    /// `sigma_nsq = 2` and `eps = 1e-10` as in the reference, including its order of clamps:
    /// negative variances to 0; where `sigma1^2 < eps`: `g = 0`, `sv^2 = sigma2^2`,
    /// `sigma1^2 = 0`; where `sigma2^2 < eps`: `g = 0`, `sv^2 = 0`; where `g < 0`:
    /// `sv^2 = sigma2^2`, `g = 0`; then `sv^2 <= eps` becomes `eps`.
    /// Returns `sum log10(1 + g^2 sigma1^2 / (sv^2 + sigma_nsq)) / sum log10(1 + sigma1^2 /
    /// sigma_nsq)` over all scales, or 1 when that is NaN.
    static func vifp(reference: Plane, distorted: Plane) -> Double {
        let sigmaNSQ = 2.0, eps = 1e-10
        var ref = reference, dist = distorted
        var num = 0.0, den = 0.0
        for scale in 1...4 {
            let n = (1 << (4 - scale + 1)) + 1
            let win = Filters.normalisedGaussian(size: n, sigma: Double(n) / 5)
            if scale > 1 {
                ref = subsample(Filters.correlateValid(ref, kernel: win))
                dist = subsample(Filters.correlateValid(dist, kernel: win))
            }
            let mu1 = Filters.correlateValid(ref, kernel: win)
            let mu2 = Filters.correlateValid(dist, kernel: win)
            let e11 = Filters.correlateValid(ref.map { $0 * $0 }, kernel: win)
            let e22 = Filters.correlateValid(dist.map { $0 * $0 }, kernel: win)
            let e12 = Filters.correlateValid(Plane.zip(ref, dist, *), kernel: win)
            for i in 0..<mu1.count {
                let m1 = mu1.values[i], m2 = mu2.values[i]
                var s1 = e11.values[i] - m1 * m1
                var s2 = e22.values[i] - m2 * m2
                let s12 = e12.values[i] - m1 * m2
                if s1 < 0 { s1 = 0 }
                if s2 < 0 { s2 = 0 }
                var g = s12 / (s1 + eps)
                var sv = s2 - g * s12
                if s1 < eps { g = 0; sv = s2; s1 = 0 }
                if s2 < eps { g = 0; sv = 0 }
                if g < 0 { sv = s2; g = 0 }
                if sv <= eps { sv = eps }
                num += log10(1 + g * g * s1 / (sv + sigmaNSQ))
                den += log10(1 + s1 / sigmaNSQ)
            }
        }
        let v = num / den
        return v.isNaN ? 1 : v
    }

    /// `x[::2, ::2]`.
    static func subsample(_ p: Plane) -> Plane {
        let w = (p.width + 1) / 2, h = (p.height + 1) / 2
        var out = [Double](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { out[y * w + x] = p[2 * x, 2 * y] } }
        return Plane(width: w, height: h, values: out)
    }
}
