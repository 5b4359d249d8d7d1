import Foundation

/// Complex discrete Fourier transforms of any length, for the frequency-domain filters of
/// Qcb and Qcv (MATLAB's `fft2`/`ifft2`, which call FFTW).
///
/// Lengths whose prime factors are all at most 31 use a mixed-radix decimation-in-time
/// transform; others (254 = 2 x 127, 614 = 2 x 307, ...) use Bluestein's chirp-z algorithm
/// over a power-of-two transform. Both are exact DFTs up to rounding (about 1e-15 relative),
/// so the results agree with FFTW's to far below the metrics' tolerance.
final class FFTPlan: @unchecked Sendable {
    let n: Int
    private let factors: [Int]
    private let cosTable: [Double]   // cos(2 pi j / n)
    private let sinTable: [Double]   // -sin(2 pi j / n): W_n^j = cos + i*sin
    private let bluestein: Bluestein?

    private struct Bluestein {
        let m: Int
        let plan: FFTPlan
        let chirpRe: [Double], chirpIm: [Double]          // w_k = exp(-i pi k^2 / n)
        let kernelRe: [Double], kernelIm: [Double]        // FFT_m of conj(w) wrapped
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [Int: FFTPlan] = [:]

    /// A shared plan for length `n` (plans are immutable; one per length is built).
    static func plan(_ n: Int) -> FFTPlan {
        lock.lock()
        if let p = cache[n] { lock.unlock(); return p }
        lock.unlock()
        let p = FFTPlan(n)
        lock.lock()
        defer { lock.unlock() }
        if let existing = cache[n] { return existing }
        cache[n] = p
        return p
    }

    private init(_ n: Int) {
        precondition(n >= 1, "an FFT of length \(n)")
        self.n = n
        var f: [Int] = []
        var rest = n
        while rest % 4 == 0 { f.append(4); rest /= 4 }
        if rest % 2 == 0 { f.append(2); rest /= 2 }
        var p = 3
        while rest > 1 {
            if p * p > rest { f.append(rest); rest = 1; break }
            while rest % p == 0 { f.append(p); rest /= p }
            p += 2
        }
        let direct = (f.max() ?? 1) <= 31
        factors = direct ? f : []
        if direct {
            cosTable = (0..<n).map { cos(2 * Double.pi * Double($0) / Double(n)) }
            sinTable = (0..<n).map { -sin(2 * Double.pi * Double($0) / Double(n)) }
            bluestein = nil
        } else {
            cosTable = []
            sinTable = []
            var m = 1
            while m < 2 * n - 1 { m *= 2 }
            let plan = FFTPlan.plan(m)
            var cr = [Double](repeating: 0, count: n), ci = cr
            for k in 0..<n {
                // k^2 mod 2n keeps the angle small and exact.
                let k2 = (k * k) % (2 * n)
                let angle = Double.pi * Double(k2) / Double(n)
                cr[k] = cos(angle)
                ci[k] = -sin(angle)
            }
            var br = [Double](repeating: 0, count: m), bi = br
            br[0] = cr[0]; bi[0] = -ci[0]
            for k in 1..<n {
                br[k] = cr[k]; bi[k] = -ci[k]
                br[m - k] = cr[k]; bi[m - k] = -ci[k]
            }
            plan.forward(&br, &bi)
            bluestein = Bluestein(m: m, plan: plan, chirpRe: cr, chirpIm: ci, kernelRe: br, kernelIm: bi)
        }
    }

    /// In-place forward DFT: `X_k = sum_j x_j exp(-2 pi i j k / n)`.
    func forward(_ re: inout [Double], _ im: inout [Double]) {
        precondition(re.count == n && im.count == n, "FFT of length \(n) given \(re.count) values")
        if n == 1 { return }
        if let b = bluestein {
            var ar = [Double](repeating: 0, count: b.m), ai = ar
            for k in 0..<n {
                ar[k] = re[k] * b.chirpRe[k] - im[k] * b.chirpIm[k]
                ai[k] = re[k] * b.chirpIm[k] + im[k] * b.chirpRe[k]
            }
            b.plan.forward(&ar, &ai)
            for k in 0..<b.m {
                let r = ar[k] * b.kernelRe[k] - ai[k] * b.kernelIm[k]
                let i = ar[k] * b.kernelIm[k] + ai[k] * b.kernelRe[k]
                // conjugate now: the inverse is conj(FFT(conj(.))) / m
                ar[k] = r; ai[k] = -i
            }
            b.plan.forward(&ar, &ai)
            let scale = 1 / Double(b.m)
            for k in 0..<n {
                let r = ar[k] * scale, i = -ai[k] * scale
                re[k] = r * b.chirpRe[k] - i * b.chirpIm[k]
                im[k] = r * b.chirpIm[k] + i * b.chirpRe[k]
            }
            return
        }
        let inRe = re, inIm = im
        inRe.withUnsafeBufferPointer { ir in
            inIm.withUnsafeBufferPointer { ii in
                re.withUnsafeMutableBufferPointer { orr in
                    im.withUnsafeMutableBufferPointer { oi in
                        recurse(ir.baseAddress!, ii.baseAddress!, 0, 1, n, orr.baseAddress!, oi.baseAddress!, 0, 0)
                    }
                }
            }
        }
    }

    /// Inverse DFT with MATLAB's `ifft` scaling (1/n).
    func inverse(_ re: inout [Double], _ im: inout [Double]) {
        for k in 0..<n { im[k] = -im[k] }
        forward(&re, &im)
        let s = 1 / Double(n)
        for k in 0..<n { re[k] *= s; im[k] = -im[k] * s }
    }

    /// Decimation in time: the `p` sub-sequences `x[r], x[r+p], ...` are transformed into
    /// consecutive blocks of `out`, then combined with radix-`p` butterflies in place.
    private func recurse(_ inRe: UnsafePointer<Double>, _ inIm: UnsafePointer<Double>, _ inOffset: Int, _ stride: Int,
                         _ size: Int, _ outRe: UnsafeMutablePointer<Double>, _ outIm: UnsafeMutablePointer<Double>,
                         _ outOffset: Int, _ level: Int) {
        let p = factors[level]
        let m = size / p
        if m == 1 {
            for r in 0..<p {
                outRe[outOffset + r] = inRe[inOffset + r * stride]
                outIm[outOffset + r] = inIm[inOffset + r * stride]
            }
        } else {
            for r in 0..<p {
                recurse(inRe, inIm, inOffset + r * stride, stride * p, m, outRe, outIm, outOffset + r * m, level + 1)
            }
        }
        let twStep = n / size        // W_size^j = W_n^(j * twStep)
        cosTable.withUnsafeBufferPointer { cosT in
            sinTable.withUnsafeBufferPointer { sinT in
                let re = outRe + outOffset, im = outIm + outOffset
                butterflies(p, m, twStep, re, im, cosT.baseAddress!, sinT.baseAddress!)
            }
        }
    }

    /// Radix-`p` butterflies over `m` groups: `t_r = x[r m + k] W_(p m)^(r k)`, then
    /// `x[k + q m] = sum_r t_r W_p^(r q)`. Twiddle indices stay below `n`
    /// (`r k twStep < p m twStep = n`), so no reduction is needed.
    @inline(__always)
    private func butterflies(_ p: Int, _ m: Int, _ twStep: Int, _ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>,
                             _ cosT: UnsafePointer<Double>, _ sinT: UnsafePointer<Double>) {
        switch p {
        case 2:
            for k in 0..<m {
                let t = k * twStep
                let wr = cosT[t], wi = sinT[t]
                let br = re[k + m] * wr - im[k + m] * wi
                let bi = re[k + m] * wi + im[k + m] * wr
                let ar = re[k], ai = im[k]
                re[k] = ar + br; im[k] = ai + bi
                re[k + m] = ar - br; im[k + m] = ai - bi
            }
        case 3:
            let h = 3.0.squareRoot() / 2
            for k in 0..<m {
                let t1 = k * twStep, t2 = 2 * k * twStep
                let x0r = re[k], x0i = im[k]
                let x1r = re[k + m] * cosT[t1] - im[k + m] * sinT[t1]
                let x1i = re[k + m] * sinT[t1] + im[k + m] * cosT[t1]
                let x2r = re[k + 2 * m] * cosT[t2] - im[k + 2 * m] * sinT[t2]
                let x2i = re[k + 2 * m] * sinT[t2] + im[k + 2 * m] * cosT[t2]
                let sr = x1r + x2r, si = x1i + x2i
                let dr = x1r - x2r, di = x1i - x2i
                let mr = x0r - 0.5 * sr, mi = x0i - 0.5 * si
                re[k] = x0r + sr; im[k] = x0i + si
                re[k + m] = mr + h * di; im[k + m] = mi - h * dr
                re[k + 2 * m] = mr - h * di; im[k + 2 * m] = mi + h * dr
            }
        case 4:
            for k in 0..<m {
                let t1 = k * twStep, t2 = 2 * k * twStep, t3 = 3 * k * twStep
                let x0r = re[k], x0i = im[k]
                let x1r = re[k + m] * cosT[t1] - im[k + m] * sinT[t1]
                let x1i = re[k + m] * sinT[t1] + im[k + m] * cosT[t1]
                let x2r = re[k + 2 * m] * cosT[t2] - im[k + 2 * m] * sinT[t2]
                let x2i = re[k + 2 * m] * sinT[t2] + im[k + 2 * m] * cosT[t2]
                let x3r = re[k + 3 * m] * cosT[t3] - im[k + 3 * m] * sinT[t3]
                let x3i = re[k + 3 * m] * sinT[t3] + im[k + 3 * m] * cosT[t3]
                let ar = x0r + x2r, ai = x0i + x2i
                let br = x0r - x2r, bi = x0i - x2i
                let cr = x1r + x3r, ci = x1i + x3i
                let dr = x1r - x3r, di = x1i - x3i
                re[k] = ar + cr; im[k] = ai + ci
                re[k + 2 * m] = ar - cr; im[k + 2 * m] = ai - ci
                // y1 = b - i d, y3 = b + i d
                re[k + m] = br + di; im[k + m] = bi - dr
                re[k + 3 * m] = br - di; im[k + 3 * m] = bi + dr
            }
        default:
            // Odd prime p: pair r with p - r. With a_r = t_r + t_(p-r), b_r = t_r - t_(p-r)
            // and theta = 2 pi r q / p, y_q = A_q - i B_q and y_(p-q) = A_q + i B_q where
            // A_q = t_0 + sum a_r cos(theta), B_q = sum b_r sin(theta): a quarter of the
            // multiplications of the plain sum.
            let rootStep = n / p     // W_p^j = W_n^(j * rootStep) = cos - i sin
            let half = (p - 1) / 2
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 4 * (half + 1)) { buffer in
                let ar = buffer.baseAddress!, ai = ar + (half + 1), br = ai + (half + 1), bi = br + (half + 1)
                for k in 0..<m {
                    let x0r = re[k], x0i = im[k]
                    var sumR = x0r, sumI = x0i
                    for r in 1...half {
                        let i1 = r * m + k, i2 = (p - r) * m + k
                        let t1 = r * k * twStep, t2 = (p - r) * k * twStep
                        let ur = re[i1] * cosT[t1] - im[i1] * sinT[t1]
                        let ui = re[i1] * sinT[t1] + im[i1] * cosT[t1]
                        let vr = re[i2] * cosT[t2] - im[i2] * sinT[t2]
                        let vi = re[i2] * sinT[t2] + im[i2] * cosT[t2]
                        ar[r] = ur + vr; ai[r] = ui + vi
                        br[r] = ur - vr; bi[r] = ui - vi
                        sumR += ar[r]; sumI += ai[r]
                    }
                    re[k] = sumR; im[k] = sumI
                    for q in 1...half {
                        var aR = x0r, aI = x0i, bR = 0.0, bI = 0.0
                        var j = 0   // (r * q) mod p, stepped by q
                        for r in 1...half {
                            j += q
                            if j >= p { j -= p }
                            let c = cosT[j * rootStep], sn = -sinT[j * rootStep]
                            aR += ar[r] * c; aI += ai[r] * c
                            bR += br[r] * sn; bI += bi[r] * sn
                        }
                        re[k + q * m] = aR + bI; im[k + q * m] = aI - bR
                        re[k + (p - q) * m] = aR - bI; im[k + (p - q) * m] = aI + bR
                    }
                }
            }
        }
    }
}

/// Frequency-domain filtering of real images, as the VIFB metrics write it:
/// `real(ifft2(ifftshift(fftshift(fft2(x)) .* H)))`.
enum FrequencyFilter {
    /// A response given on MATLAB's centred (`fftshift`ed) grid, `response(u, v)` for the
    /// `freqspace([h w], 'meshgrid')` frequencies `u` (along x) and `v` (along y), laid out
    /// for unshifted spectra: element `(x, y)` holds the value at `fftshift` position
    /// `((x + w/2) mod w, (y + h/2) mod h)`.
    static func response(width w: Int, height h: Int, _ value: (_ u: Double, _ v: Double) -> Double) -> [Double] {
        // freqspace: f = ((0:n-1) - floor(n/2)) * (2/n), in that order of operations.
        let fu = (0..<w).map { Double($0 - w / 2) * (2 / Double(w)) }
        let fv = (0..<h).map { Double($0 - h / 2) * (2 / Double(h)) }
        var out = [Double](repeating: 0, count: w * h)
        for y in 0..<h {
            let sy = (y + h / 2) % h
            for x in 0..<w {
                out[y * w + x] = value(fu[(x + w / 2) % w], fv[sy])
            }
        }
        return out
    }

    /// Filters `a` and, if given, `b` (same size) with one real, centro-symmetric response:
    /// `a + i b` is transformed once, and since the response preserves conjugate symmetry
    /// the real part of the result is `a` filtered and the imaginary part `b` filtered.
    /// (MATLAB's `ifft2` sees the conjugate-symmetric spectrum and returns the real result.)
    static func apply(_ a: Plane, _ b: Plane?, response: [Double]) -> (Plane, Plane?) {
        let w = a.width, h = a.height
        var re = a.values
        var im = b?.values ?? [Double](repeating: 0, count: w * h)
        transform2D(&re, &im, width: w, height: h, inverse: false)
        for i in 0..<re.count { re[i] *= response[i]; im[i] *= response[i] }
        transform2D(&re, &im, width: w, height: h, inverse: true)
        return (Plane(width: w, height: h, values: re), b == nil ? nil : Plane(width: w, height: h, values: im))
    }

    /// The 2-D DFT (rows, then columns), in place.
    static func transform2D(_ re: inout [Double], _ im: inout [Double], width w: Int, height h: Int, inverse: Bool) {
        let rows = FFTPlan.plan(w), cols = FFTPlan.plan(h)
        var br = [Double](repeating: 0, count: w), bi = br
        for y in 0..<h {
            for x in 0..<w { br[x] = re[y * w + x]; bi[x] = im[y * w + x] }
            if inverse { rows.inverse(&br, &bi) } else { rows.forward(&br, &bi) }
            for x in 0..<w { re[y * w + x] = br[x]; im[y * w + x] = bi[x] }
        }
        var cr = [Double](repeating: 0, count: h), ci = cr
        for x in 0..<w {
            for y in 0..<h { cr[y] = re[y * w + x]; ci[y] = im[y * w + x] }
            if inverse { cols.inverse(&cr, &ci) } else { cols.forward(&cr, &ci) }
            for y in 0..<h { re[y * w + x] = cr[y]; im[y * w + x] = ci[y] }
        }
    }
}
