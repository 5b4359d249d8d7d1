import Foundation

/// Qabf, the gradient-based fusion performance of Xydeas and Petrovic, with the constants
/// both references use (`Tg = 0.9994, kg = -15, Dg = 0.5, Ta = 0.9879, ka = -22, Da = 0.8`).
enum EdgePreservation {
    /// Sobel responses as `conv2(x, h, 'same')` / `convolve2d(x, h, mode='same')` compute
    /// them: a true convolution with zero padding of `h3 = [-1 0 1; -2 0 2; -1 0 1]` (x) and
    /// `h1 = [1 2 1; 0 0 0; -1 -2 -1]` (y). Strength `sqrt(sx^2 + sy^2)`, orientation
    /// `atan(sy / sx)`, or pi/2 where `sx == 0`.
    static func edges(_ p: Plane) -> (strength: [Double], angle: [Double]) {
        let h1: [[Double]] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
        let h3: [[Double]] = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
        let sx = Filters.correlate3x3(p, kernel: Filters.rotated(h3), border: .zero)
        let sy = Filters.correlate3x3(p, kernel: Filters.rotated(h1), border: .zero)
        var g = [Double](repeating: 0, count: p.count), a = g
        for i in 0..<p.count {
            let x = sx.values[i], y = sy.values[i]
            g[i] = (x * x + y * y).squareRoot()
            a[i] = x == 0 ? Double.pi / 2 : atan(y / x)
        }
        return (g, a)
    }

    /// `Q^{AF}` at one pixel. The references' three-way comparison is kept: where the two
    /// strengths are equal, `G = gF` (not 1), which is why the scale of the images matters
    /// (see `qabf(_:_:_:scale:)`).
    @inline(__always) static func preservation(gA: Double, aA: Double, gF: Double, aF: Double) -> Double {
        let tg = 0.9994, kg = -15.0, dg = 0.5, ta = 0.9879, ka = -22.0, da = 0.8
        let gaf: Double
        if gA > gF { gaf = gF / gA } else if gA == gF { gaf = gF } else { gaf = gA / gF }
        let aaf = 1 - abs(aA - aF) / (Double.pi / 2)
        let qg = tg / (1 + exp(kg * (gaf - dg)))
        let qa = ta / (1 + exp(ka * (aaf - da)))
        return qg * qa
    }

    /// `sum(Q^{AF} gA + Q^{BF} gB) / sum(gA + gB)`. `scale` multiplies the images first:
    /// 1 for the evaluator, 255 for VIFB (whose `255*im2double(x)` of an already-double
    /// image scales it by 255 and so only changes the equal-strength case above).
    static func qabf(_ f: Plane, _ a: Plane, _ b: Plane, scale: Double) -> Double {
        let (gA, aA) = edges(scale == 1 ? a : a.map { $0 * scale })
        let (gB, aB) = edges(scale == 1 ? b : b.map { $0 * scale })
        let (gF, aF) = edges(scale == 1 ? f : f.map { $0 * scale })
        var num = 0.0, den = 0.0
        for i in 0..<f.count {
            let qa = preservation(gA: gA[i], aA: aA[i], gF: gF[i], aF: aF[i])
            let qb = preservation(gA: gB[i], aA: aB[i], gF: gF[i], aF: aF[i])
            num += qa * gA[i] + qb * gB[i]
            den += gA[i] + gB[i]
        }
        return num / den
    }
}
