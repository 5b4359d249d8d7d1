import Foundation

/// The spatial filters the metrics use, each named after the call it reproduces.
///
/// Convolution vs correlation: MATLAB's `filter2` and `imfilter` correlate, `conv2` and
/// scipy's `convolve2d` convolve (the kernel rotated by 180 degrees). Every helper here
/// correlates; callers pass rotated kernels where the reference convolves.
enum Filters {
    /// Separable correlation with zero padding, output the input's size (`filter2(k, x,
    /// 'same')`, `conv2(x, k, 'same')` for a symmetric kernel). `rowKernel` runs along x,
    /// `columnKernel` along y; both have odd length, centred.
    static func correlateSame(_ p: Plane, rowKernel: [Double], columnKernel: [Double]) -> Plane {
        let w = p.width, h = p.height
        let kr = rowKernel.count, cr = kr / 2
        let kc = columnKernel.count, cc = kc / 2
        // Rows: each row zero-padded by cr on both sides, then out[x] += row[x+t] * k[t].
        var tmp = [Double](repeating: 0, count: w * h)
        var padded = [Double](repeating: 0, count: w + kr - 1)
        p.values.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { dst in
                padded.withUnsafeMutableBufferPointer { buf in
                    for y in 0..<h {
                        for x in 0..<w { buf[x + cr] = src[y * w + x] }
                        let out = dst.baseAddress! + y * w
                        for t in 0..<kr {
                            let k = rowKernel[t]
                            let row = buf.baseAddress! + t
                            for x in 0..<w { out[x] += row[x] * k }
                        }
                    }
                }
            }
        }
        // Columns: out row y += tmp row (y+t-cc) * k[t] for the rows that exist.
        var out = [Double](repeating: 0, count: w * h)
        tmp.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let o = dst.baseAddress! + y * w
                    for t in max(0, cc - y)..<min(kc, h - y + cc) {
                        let k = columnKernel[t]
                        let row = src.baseAddress! + (y + t - cc) * w
                        for x in 0..<w { o[x] += row[x] * k }
                    }
                }
            }
        }
        return Plane(width: w, height: h, values: out)
    }

    /// Separable correlation over the positions where the kernel fits (`filter2(k, x,
    /// 'valid')`, `convolve2d(x, rot90(k, 2), 'valid')`): `(w-k+1) x (h-k+1)` values.
    static func correlateValid(_ p: Plane, kernel: [Double]) -> Plane {
        let k = kernel.count
        let w = p.width, h = p.height
        let ow = max(0, w - k + 1), oh = max(0, h - k + 1)
        var tmp = [Double](repeating: 0, count: ow * h)
        p.values.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let out = dst.baseAddress! + y * ow
                    for t in 0..<k {
                        let kt = kernel[t]
                        let row = src.baseAddress! + y * w + t
                        for x in 0..<ow { out[x] += row[x] * kt }
                    }
                }
            }
        }
        var out = [Double](repeating: 0, count: ow * oh)
        tmp.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    let o = dst.baseAddress! + y * ow
                    for t in 0..<k {
                        let kt = kernel[t]
                        let row = src.baseAddress! + (y + t) * ow
                        for x in 0..<ow { o[x] += row[x] * kt }
                    }
                }
            }
        }
        return Plane(width: ow, height: oh, values: out)
    }

    enum Border { case zero, replicate }

    /// Direct 3x3 correlation, output the input's size: `filter2(k, x, 'same')` or
    /// `imfilter(x, k)` with `.zero`, `imfilter(x, k, 'replicate')` with `.replicate`.
    /// `kernel` is row-major, `kernel[r][c]` weighting the pixel at `(x+c-1, y+r-1)`.
    static func correlate3x3(_ p: Plane, kernel: [[Double]], border: Border) -> Plane {
        let w = p.width, h = p.height
        var out = [Double](repeating: 0, count: w * h)
        p.values.withUnsafeBufferPointer { src in
            for y in 0..<h {
                for x in 0..<w {
                    var s = 0.0
                    for r in 0..<3 {
                        var yy = y + r - 1
                        if yy < 0 || yy >= h {
                            if border == .zero { continue }
                            yy = min(max(yy, 0), h - 1)
                        }
                        for c in 0..<3 {
                            let k = kernel[r][c]
                            if k == 0 { continue }
                            var xx = x + c - 1
                            if xx < 0 || xx >= w {
                                if border == .zero { continue }
                                xx = min(max(xx, 0), w - 1)
                            }
                            s += src[yy * w + xx] * k
                        }
                    }
                    out[y * w + x] = s
                }
            }
        }
        return Plane(width: w, height: h, values: out)
    }

    /// The 180-degree rotation of a 3x3 kernel (what `conv2` applies, as a correlation).
    static func rotated(_ k: [[Double]]) -> [[Double]] {
        k.reversed().map { $0.reversed() }
    }

    /// The 1-D factor of MATLAB's `fspecial('gaussian', n, sigma)`: `exp(-t^2 / (2 sigma^2))`
    /// for `t = -(n-1)/2 ... (n-1)/2`, normalised to sum 1. The outer product of two of these
    /// is `fspecial`'s 2-D kernel (up to rounding; `fspecial` zeroes values below
    /// `eps * max`, which none of the sizes used here have: the smallest ratio is
    /// exp(-11.1) for the 11x11, sigma 1.5 window).
    static func normalisedGaussian(size n: Int, sigma: Double) -> [Double] {
        let m = Double(n - 1) / 2
        let g = (0..<n).map { i -> Double in
            let t = Double(i) - m
            return exp(-(t * t) / (2 * sigma * sigma))
        }
        let s = g.reduce(0, +)
        return g.map { $0 / s }
    }
}
