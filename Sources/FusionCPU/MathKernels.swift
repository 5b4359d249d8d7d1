import Foundation

// Small numeric building blocks shared by the kernels: a vectorisable exp, Double-accumulated
// reductions and a numerically stable row softmax.

/// `exp(x)` in float32 with about 1 ulp of error, written without branches or traps so that
/// loops calling it vectorise. Returns 0 below -87.33 (where expf is denormal or 0), and a
/// large finite value instead of +inf above 88.7.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let lo: Float = -87.33654
    let xc = Swift.min(Swift.max(x, lo), 88.37626)
    // n = round(x / ln 2) with the 1.5 * 2^23 trick; r = x - n ln 2 in two parts.
    let magic: Float = 12_582_912
    let t = xc * 1.442_695_04 + magic
    let n = t - magic
    var r = xc - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_1e-1
    p = p * (r * r) + r + 1
    let e = Int32(bitPattern: t.bitPattern) &- Int32(bitPattern: magic.bitPattern)
    let scale = Float(bitPattern: UInt32(bitPattern: (e &+ 127) &<< 23))
    let y = p * scale
    return x < lo ? 0 : y
}

/// Sum of `n` floats accumulated in Double (eight independent partial sums).
@inline(__always)
func sumDouble(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    var i = 0
    while i &+ 8 <= n {
        s0 += Double(p[i]); s1 += Double(p[i &+ 1]); s2 += Double(p[i &+ 2]); s3 += Double(p[i &+ 3])
        s4 += Double(p[i &+ 4]); s5 += Double(p[i &+ 5]); s6 += Double(p[i &+ 6]); s7 += Double(p[i &+ 7])
        i &+= 8
    }
    while i < n { s0 += Double(p[i]); i &+= 1 }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

/// Sum of squared deviations from `mean`, accumulated in Double.
@inline(__always)
func sumSquaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, mean: Double) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    var i = 0
    while i &+ 8 <= n {
        let d0 = Double(p[i]) - mean, d1 = Double(p[i &+ 1]) - mean
        let d2 = Double(p[i &+ 2]) - mean, d3 = Double(p[i &+ 3]) - mean
        let d4 = Double(p[i &+ 4]) - mean, d5 = Double(p[i &+ 5]) - mean
        let d6 = Double(p[i &+ 6]) - mean, d7 = Double(p[i &+ 7]) - mean
        s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
        s4 += d4 * d4; s5 += d5 * d5; s6 += d6 * d6; s7 += d7 * d7
        i &+= 8
    }
    while i < n { let d = Double(p[i]) - mean; s0 += d * d; i &+= 1 }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

/// Sum of squares accumulated in Double.
@inline(__always)
func sumSquares(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    sumSquaredDeviations(p, n, mean: 0)
}

/// `dst[i] = Float(Double(src[i]) * scale + shift)` for an affine normalisation.
@inline(__always)
func affineDouble(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, scale: Double, shift: Double) {
    for i in 0..<n { dst[i] = Float(Double(src[i]) * scale + shift) }
}

@inline(__always)
func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

/// Largest element (NaN-ignoring); -inf for an empty row.
@inline(__always)
func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var m0 = SIMD4<Float>(repeating: -.infinity), m1 = m0
    var i = 0
    while i &+ 8 <= n {
        let a = load4(p + i), b = load4(p + (i &+ 4))
        m0 = m0.replacing(with: a, where: a .> m0)
        m1 = m1.replacing(with: b, where: b .> m1)
        i &+= 8
    }
    var m = Swift.max(m0.max(), m1.max())
    while i < n { if p[i] > m { m = p[i] }; i &+= 1 }
    return m
}

/// Sum of `n` floats: vector partial sums over blocks of 256, blocks added in Double.
@inline(__always)
func blockedSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    var i = 0
    while i < n {
        let end = Swift.min(n, i &+ 256)
        var s0 = SIMD4<Float>(), s1 = SIMD4<Float>()
        while i &+ 8 <= end {
            s0 += load4(p + i)
            s1 += load4(p + (i &+ 4))
            i &+= 8
        }
        var s = (s0 + s1).sum()
        while i < end { s += p[i]; i &+= 1 }
        total += Double(s)
    }
    return total
}

/// In-place stable softmax of one row: `exp(x - max) / sum`, the sum accumulated in Double.
/// A row whose every entry is -inf (fully masked) becomes all zeros.
@inline(__always)
func softmaxRowInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    softmaxRow(UnsafePointer(p), p, n)
}

/// Stable softmax of `src` into `dst` (which may be `src`).
@inline(__always)
func softmaxRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    if n <= 0 { return }
    let m = rowMax(src, n)
    if m == -Float.infinity || m.isNaN {
        // Every key masked: no distribution exists; emit zeros rather than NaN.
        dst.update(repeating: m.isNaN ? .nan : 0, count: n)
        return
    }
    for j in 0..<n { dst[j] = fastExp(src[j] - m) }
    let inv = Float(1.0 / blockedSum(dst, n))
    for j in 0..<n { dst[j] *= inv }
}
