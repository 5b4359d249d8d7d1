import Foundation

/// The human-perception metrics of VIFB: Qcb (Chen-Blum) and Qcv (Chen-Varshney), from
/// Z. Liu's `metricChenBlum.m` and `metricChen.m`. Both filter with a contrast sensitivity
/// function in the frequency domain (`FrequencyFilter`).
enum HumanPerception {
    /// A source/source/fused triple of one channel.
    struct Channel {
        let vis: Plane
        let ir: Plane
        let fused: Plane
    }

    /// Liu's `normalize1`: `round((x - min) / (max - min) * 255)` (MATLAB's round, half away
    /// from zero), or the data unchanged when its max and min are both 0.
    static func normalize1(_ p: Plane) -> Plane {
        let hi = p.maximum, lo = p.minimum
        if hi == 0 && lo == 0 { return p }
        return p.map { (($0 - lo) / (hi - lo) * 255).rounded(.toNearestOrAwayFromZero) }
    }

    /// Filters every plane (all of one size) with `response`, two planes per complex FFT.
    static func filterAll(_ planes: [Plane], response: [Double]) -> [Plane] {
        var out: [Plane] = []
        var i = 0
        while i < planes.count {
            let (a, b) = FrequencyFilter.apply(planes[i], i + 1 < planes.count ? planes[i + 1] : nil, response: response)
            out.append(a)
            if let b { out.append(b) }
            i += 2
        }
        return out
    }

    // MARK: Qcb

    /// Qcb of each channel. Constants: CSF `Sd(r) = exp(-(r/15.3870)^2) - 0.7622
    /// exp(-(r/1.3456)^2)` on `freqspace` frequencies scaled by `W/30` (u) and `H/30` (v);
    /// local contrast `C = |G1 * I / G2 * I - 1|` with unnormalised 31x31 Gaussians of sigma
    /// 2 and 4 (`exp(-(x^2+y^2)/(2 s^2)) / (2 pi s^2)`, `filter2 'same'`, zero padding);
    /// masked contrast `C^3 / (C^2 + 0.0001)`; saliency `C1^2 / (C1^2 + C2^2)`.
    static func qcb(_ channels: [Channel]) -> [Double] {
        guard let first = channels.first else { return [] }
        let w = first.fused.width, h = first.fused.height
        let hh = Double(h) / 30, ll = Double(w) / 30
        let response = FrequencyFilter.response(width: w, height: h) { fu, fv in
            let u = ll * fu, v = hh * fv
            let r = (u * u + v * v).squareRoot()
            return exp(-pow(r / 15.3870, 2)) - 0.7622 * exp(-pow(r / 1.3456, 2))
        }
        var planes: [Plane] = []
        for c in channels { planes += [normalize1(c.vis), normalize1(c.ir), normalize1(c.fused)] }
        let filtered = filterAll(planes, response: response)
        let g1 = gaussian31(sigma: 2), g2 = gaussian31(sigma: 4)
        return channels.indices.map { k in
            let c1 = maskedContrast(filtered[3 * k], g1, g2)
            let c2 = maskedContrast(filtered[3 * k + 1], g1, g2)
            let cf = maskedContrast(filtered[3 * k + 2], g1, g2)
            var total = 0.0
            for i in 0..<cf.count {
                let a = c1[i], b = c2[i], f = cf[i]
                // mask .* (x./y) + (1-mask) .* (y./x), literally: an Inf times 0 is NaN there too.
                let m1: Double = a < f ? 1 : 0
                let q1 = (a / f) * m1 + (f / a) * (1 - m1)
                let m2: Double = b < f ? 1 : 0
                let q2 = (b / f) * m2 + (f / b) * (1 - m2)
                let r1 = (a * a) / (a * a + b * b)
                let r2 = (b * b) / (a * a + b * b)
                total += r1 * q1 + r2 * q2
            }
            return total / Double(cf.count)
        }
    }

    /// The 1-D factor of `gaussian2d(., ., sigma)`'s 31x31 kernel and its scale
    /// `1 / (2 pi sigma^2)`.
    static func gaussian31(sigma: Double) -> (taps: [Double], scale: Double) {
        ((-15...15).map { t in exp(-Double(t * t) / (2 * sigma * sigma)) }, 1 / (2 * Double.pi * sigma * sigma))
    }

    static func maskedContrast(_ p: Plane, _ g1: (taps: [Double], scale: Double), _ g2: (taps: [Double], scale: Double)) -> [Double] {
        let b1 = Filters.correlateSame(p, rowKernel: g1.taps, columnKernel: g1.taps.map { $0 * g1.scale })
        let b2 = Filters.correlateSame(p, rowKernel: g2.taps, columnKernel: g2.taps.map { $0 * g2.scale })
        var out = [Double](repeating: 0, count: p.count)
        for i in 0..<p.count {
            let c = abs(b1.values[i] / b2.values[i] - 1)
            out[i] = (c * c * c) / (c * c + 0.0001)
        }
        return out
    }

    // MARK: Qcv

    /// Qcv of each channel. Edge strength with `filter2` of `[-1 0 1; -2 0 2; -1 0 1]` and its
    /// transpose (zero padding); region saliency `sum(G^5)` per 16x16 block; the difference
    /// images `I - F` filtered with the Mannos-Sakrison CSF `2.6 (0.0192 + 0.144 r)
    /// exp(-(0.144 r)^1.1)` on frequencies scaled by `W/8`, `H/8`; per block `mean2(D^2)`.
    /// `blkproc` pads partial blocks at the right and bottom with zeros, so a partial block's
    /// mean still divides by 256. `Q = sum(l1 D1 + l2 D2) / sum(l1 + l2)`.
    static func qcv(_ channels: [Channel]) -> [Double] {
        guard let first = channels.first else { return [] }
        let w = first.fused.width, h = first.fused.height
        let response = FrequencyFilter.response(width: w, height: h) { fu, fv in
            let u = Double(w) / 8 * fu, v = Double(h) / 8 * fv
            let r = (u * u + v * v).squareRoot()
            return 2.6 * (0.0192 + 0.144 * r) * exp(-pow(0.144 * r, 1.1))
        }
        var saliency: [([Double], [Double])] = []
        var differences: [Plane] = []
        for c in channels {
            let im1 = normalize1(c.vis), im2 = normalize1(c.ir), f = normalize1(c.fused)
            saliency.append((blocks(edgeStrength(im1), { pow($0, 5) }), blocks(edgeStrength(im2), { pow($0, 5) })))
            differences += [Plane.zip(im1, f, -), Plane.zip(im2, f, -)]
        }
        let filtered = filterAll(differences, response: response)
        return channels.indices.map { k in
            let (l1, l2) = saliency[k]
            let d1 = blocks(filtered[2 * k], { $0 * $0 }).map { $0 / 256 }
            let d2 = blocks(filtered[2 * k + 1], { $0 * $0 }).map { $0 / 256 }
            var num = 0.0, den = 0.0
            for i in 0..<l1.count {
                num += l1[i] * d1[i] + l2[i] * d2[i]
                den += l1[i] + l2[i]
            }
            return num / den
        }
    }

    static func edgeStrength(_ p: Plane) -> Plane {
        let flt1: [[Double]] = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
        let flt2: [[Double]] = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
        let gx = Filters.correlate3x3(p, kernel: flt1, border: .zero)
        let gy = Filters.correlate3x3(p, kernel: flt2, border: .zero)
        return Plane.zip(gx, gy) { ($0 * $0 + $1 * $1).squareRoot() }
    }

    /// `sum(f(x))` over each 16x16 block (row-major block order; padding zeros add `f(0)`,
    /// which is 0 for both uses).
    static func blocks(_ p: Plane, _ f: (Double) -> Double) -> [Double] {
        let n = 16
        let bw = (p.width + n - 1) / n, bh = (p.height + n - 1) / n
        var out = [Double](repeating: 0, count: bw * bh)
        for y in 0..<p.height {
            for x in 0..<p.width { out[(y / n) * bw + x / n] += f(p[x, y]) }
        }
        return out
    }
}
