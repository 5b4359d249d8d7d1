// Winograd minimal filtering for 3x3 convolutions, stride 1 (Lavin & Gray 2015, as in ncnn).
//
// F(m x m, 3 x 3) computes an m x m output tile from an a x a input patch (a = m + 2):
//
//     Y = A^T [ (G g G^T) .* (B^T d B) ] A
//
// with g the 3x3 kernel, d the patch, and (G, B^T, A^T) the transform matrices of the
// variant. The element-wise product summed over input channels is, for each of the a x a
// positions, one matrix product [O x C] x [C x tiles], which is what the driver
// (WinogradConv.swift) hands to sgemm. This file holds only the transforms:
//  * the kernel transform U = G g G^T, in float64 then rounded once (weights are constants);
//  * the patch transform V = B^T d B and the output transform Y = A^T M A, on eight tiles at a
//    time (one SIMD8 lane per tile), so that every arithmetic step is a vector operation.
//
// F(4x4, 3x3) uses the points 0, +-1, +-2, infinity (ncnn's choice): 36 positions for 16
// outputs, 4x fewer multiplications than direct convolution, with larger round-off (the
// transforms reach factors of 8 and 1/24). F(2x2, 3x3) uses 0, +-1, infinity: 16 positions for
// 4 outputs (2.25x fewer), round-off about that of direct convolution.

/// Lanes (tiles) every transform handles at once.
let winogradLanes = 8
typealias WinogradVector = SIMD8<Float>

/// The Winograd variant: output tile size m (patch a = m + 2).
enum WinogradVariant: Int, Hashable, CustomStringConvertible {
    case f2 = 2
    case f4 = 4

    /// Output tile side m.
    var tile: Int { rawValue }
    /// Input patch side a = m + 2.
    var patch: Int { rawValue + 2 }
    /// Transform positions a * a: the number of GEMMs per tile block.
    var positions: Int { patch * patch }

    var description: String { "F(\(tile)x\(tile),3x3)" }

    /// G (a x 3), the kernel transform.
    var g: [[Double]] {
        switch self {
        case .f2:
            return [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        case .f4:
            return [[1.0 / 4, 0, 0],
                    [-1.0 / 6, -1.0 / 6, -1.0 / 6],
                    [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                    [1.0 / 24, 1.0 / 12, 1.0 / 6],
                    [1.0 / 24, -1.0 / 12, 1.0 / 6],
                    [0, 0, 1]]
        }
    }

    /// G flattened row-major (a x 3).
    private var gFlat: [Double] { g.flatMap { $0 } }

    /// Transforms kernels [O, C, 3, 3] into U laid out [position][O][C] (each position a
    /// row-major O x C matrix, the A operand of its GEMM), output channels in parallel.
    func transformWeights(_ weight: UnsafePointer<Float>, o: Int, c: Int, into u: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let a = patch, oc = o * c
        let gm = gFlat
        gm.withUnsafeBufferPointer { gp in
            let gm = gp.baseAddress!
            parallelFor(o, threads: threads, grain: max(1, 4096 / max(1, c))) { oi in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 18) { t in
                    for ci in 0..<c {
                        let k = weight + (oi * c + ci) * 9
                        // t = G g (a x 3)
                        for i in 0..<a {
                            let g0 = gm[i * 3], g1 = gm[i * 3 + 1], g2 = gm[i * 3 + 2]
                            for j in 0..<3 {
                                t[i * 3 + j] = g0 * Double(k[j]) + g1 * Double(k[3 + j]) + g2 * Double(k[6 + j])
                            }
                        }
                        // U = t G^T (a x a)
                        let dst = u + oi * c + ci
                        for i in 0..<a {
                            let t0 = t[i * 3], t1 = t[i * 3 + 1], t2 = t[i * 3 + 2]
                            for j in 0..<a {
                                dst[(i * a + j) * oc] = Float(t0 * gm[j * 3] + t1 * gm[j * 3 + 1] + t2 * gm[j * 3 + 2])
                            }
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Lane-interleaved transforms
//
// Patches and output tiles are passed lane-interleaved: `d[k * 8 + lane]` is element k
// (row-major) of the lane's patch. Transform positions are read from / written to
// `base + p * stride` (eight consecutive floats, any alignment).

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> WinogradVector {
    UnsafeRawPointer(p).loadUnaligned(as: WinogradVector.self)
}

@inline(__always)
private func store(_ v: WinogradVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: WinogradVector.self)
}

/// B^T of F(4,3) applied to six values (a column or row of the patch).
@inline(__always)
private func inputF4(_ d0: WinogradVector, _ d1: WinogradVector, _ d2: WinogradVector, _ d3: WinogradVector,
                     _ d4: WinogradVector, _ d5: WinogradVector)
    -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector) {
    let a = d4 - 4 * d2
    let b = d3 - 4 * d1
    let c = d4 - d2
    let e = 2 * (d3 - d1)
    return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
}

/// A^T of F(4,3) applied to six values.
@inline(__always)
private func outputF4(_ m0: WinogradVector, _ m1: WinogradVector, _ m2: WinogradVector, _ m3: WinogradVector,
                      _ m4: WinogradVector, _ m5: WinogradVector)
    -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector) {
    let s12 = m1 + m2, d12 = m1 - m2
    let s34 = m3 + m4, d34 = m3 - m4
    return (m0 + s12 + s34, d12 + 2 * d34, s12 + 4 * s34, d12 + 8 * d34 + m5)
}

/// V = B^T d B for eight 6x6 patches `d` (lane-interleaved); position p to `v + p * stride`.
@inline(__always)
func winogradInputF4(_ d: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, stride: Int) {
    withUnsafeTemporaryAllocation(of: WinogradVector.self, capacity: 36) { t in
        for j in 0..<6 {
            let r = inputF4(load(d + j * 8), load(d + (6 + j) * 8), load(d + (12 + j) * 8),
                            load(d + (18 + j) * 8), load(d + (24 + j) * 8), load(d + (30 + j) * 8))
            t[j] = r.0; t[6 + j] = r.1; t[12 + j] = r.2; t[18 + j] = r.3; t[24 + j] = r.4; t[30 + j] = r.5
        }
        for i in 0..<6 {
            let r = inputF4(t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5])
            let base = v + i * 6 * stride
            store(r.0, base); store(r.1, base + stride); store(r.2, base + 2 * stride)
            store(r.3, base + 3 * stride); store(r.4, base + 4 * stride); store(r.5, base + 5 * stride)
        }
    }
}

/// Y = A^T M A for eight tiles: position p's values at `m + p * stride`; the 4x4 outputs
/// lane-interleaved into `y` (16 x 8 floats).
@inline(__always)
func winogradOutputF4(_ m: UnsafePointer<Float>, stride: Int, _ y: UnsafeMutablePointer<Float>) {
    withUnsafeTemporaryAllocation(of: WinogradVector.self, capacity: 24) { t in
        for j in 0..<6 {
            let r = outputF4(load(m + j * stride), load(m + (6 + j) * stride), load(m + (12 + j) * stride),
                             load(m + (18 + j) * stride), load(m + (24 + j) * stride), load(m + (30 + j) * stride))
            t[j] = r.0; t[6 + j] = r.1; t[12 + j] = r.2; t[18 + j] = r.3
        }
        for i in 0..<4 {
            let r = outputF4(t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5])
            let base = y + i * 4 * 8
            store(r.0, base); store(r.1, base + 8); store(r.2, base + 16); store(r.3, base + 24)
        }
    }
}

// MARK: - F(2x2, 3x3)

@inline(__always)
private func inputF2(_ d0: WinogradVector, _ d1: WinogradVector, _ d2: WinogradVector, _ d3: WinogradVector)
    -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector) {
    (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
}

@inline(__always)
private func outputF2(_ m0: WinogradVector, _ m1: WinogradVector, _ m2: WinogradVector, _ m3: WinogradVector)
    -> (WinogradVector, WinogradVector) {
    (m0 + m1 + m2, m1 - m2 - m3)
}

/// V = B^T d B for eight 4x4 patches `d` (lane-interleaved); position p to `v + p * stride`.
@inline(__always)
func winogradInputF2(_ d: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, stride: Int) {
    withUnsafeTemporaryAllocation(of: WinogradVector.self, capacity: 16) { t in
        for j in 0..<4 {
            let r = inputF2(load(d + j * 8), load(d + (4 + j) * 8), load(d + (8 + j) * 8), load(d + (12 + j) * 8))
            t[j] = r.0; t[4 + j] = r.1; t[8 + j] = r.2; t[12 + j] = r.3
        }
        for i in 0..<4 {
            let r = inputF2(t[i * 4], t[i * 4 + 1], t[i * 4 + 2], t[i * 4 + 3])
            let base = v + i * 4 * stride
            store(r.0, base); store(r.1, base + stride); store(r.2, base + 2 * stride); store(r.3, base + 3 * stride)
        }
    }
}

/// Y = A^T M A for eight tiles; the 2x2 outputs lane-interleaved into `y` (4 x 8 floats).
@inline(__always)
func winogradOutputF2(_ m: UnsafePointer<Float>, stride: Int, _ y: UnsafeMutablePointer<Float>) {
    withUnsafeTemporaryAllocation(of: WinogradVector.self, capacity: 8) { t in
        for j in 0..<4 {
            let r = outputF2(load(m + j * stride), load(m + (4 + j) * stride), load(m + (8 + j) * stride), load(m + (12 + j) * stride))
            t[j] = r.0; t[4 + j] = r.1
        }
        for i in 0..<2 {
            let r = outputF2(t[i * 4], t[i * 4 + 1], t[i * 4 + 2], t[i * 4 + 3])
            store(r.0, y + i * 2 * 8); store(r.1, y + (i * 2 + 1) * 8)
        }
    }
}
