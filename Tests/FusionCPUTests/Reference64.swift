import Foundation
import FusionCore

/// An independent float64 reference of every op, for checking backends.
///
/// Each function is a plain loop nest written straight from the PyTorch definition of the
/// op (the documentation of `Op` in FusionCore), with no blocking, no vectorisation, no
/// fused tricks and no shared code with any backend. Tensors are `[Double]` in contiguous
/// row-major order with an explicit shape; every function returns `(data, shape)`.
///
/// The functions assume valid operands (shape checks are the graph builder's job and are
/// tested separately); they `precondition` on the few facts their loops rely on.
enum Reference64 {
    typealias Out = (data: [Double], shape: [Int])

    // MARK: - Index helpers

    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = Array(repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The multi-index of flat position `flat` in `shape`.
    static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var idx = Array(repeating: 0, count: shape.count)
        var rest = flat
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            idx[i] = rest % shape[i]
            rest /= shape[i]
        }
        return idx
    }

    /// The flat position of multi-index `idx` in `shape`.
    static func ravel(_ idx: [Int], _ shape: [Int]) -> Int {
        var flat = 0
        for i in 0..<shape.count { flat = flat * shape[i] + idx[i] }
        return flat
    }

    /// PyTorch "reflect" padding index (the edge sample is not repeated):
    /// -1 -> 1, -2 -> 2, n -> n - 2, n + 1 -> n - 3. Valid while the pad is < n.
    static func reflect(_ i: Int, _ n: Int) -> Int {
        var j = i
        if j < 0 { j = -j }
        if j >= n { j = 2 * (n - 1) - j }
        precondition(j >= 0 && j < n, "reflect index \(i) out of range for size \(n)")
        return j
    }

    /// NumPy broadcast of two shapes (assumed compatible).
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let r = max(a.count, b.count)
        let pa = Array(repeating: 1, count: r - a.count) + a
        let pb = Array(repeating: 1, count: r - b.count) + b
        return (0..<r).map { i in
            precondition(pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1, "\(a) and \(b) do not broadcast")
            return pa[i] == 1 ? pb[i] : pa[i]
        }
    }

    /// Flat index into a tensor of shape `shape` (right-aligned to `outIdx`) for broadcasting.
    static func broadcastIndex(_ outIdx: [Int], _ shape: [Int]) -> Int {
        let offset = outIdx.count - shape.count
        var flat = 0
        for i in 0..<shape.count {
            let j = shape[i] == 1 ? 0 : outIdx[offset + i]
            flat = flat * shape[i] + j
        }
        return flat
    }

    // MARK: - Convolution and products

    /// `F.conv2d`, with reflect padding meaning `F.pad(mode="reflect")` then a valid conv.
    /// x [N,C,H,W], weight [O, C/groups, KH, KW], bias [O]; padding (top, bottom, left, right).
    static func conv2d(_ x: [Double], _ xShape: [Int], weight: [Double], _ wShape: [Int], bias: [Double]?,
                       stride: (Int, Int), padding: (Int, Int, Int, Int), dilation: (Int, Int),
                       groups: Int, mode: PaddingMode) -> Out {
        let n = xShape[0], c = xShape[1], h = xShape[2], w = xShape[3]
        let o = wShape[0], cg = wShape[1], kh = wShape[2], kw = wShape[3]
        precondition(cg * groups == c && o % groups == 0)
        let og = o / groups
        let paddedH = h + padding.0 + padding.1, paddedW = w + padding.2 + padding.3
        let ho = (paddedH - ((kh - 1) * dilation.0 + 1)) / stride.0 + 1
        let wo = (paddedW - ((kw - 1) * dilation.1 + 1)) / stride.1 + 1
        var out = [Double](repeating: 0, count: n * o * ho * wo)
        for b in 0..<n {
            for oc in 0..<o {
                let g = oc / og
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var acc = bias?[oc] ?? 0
                        for ci in 0..<cg {
                            let ic = g * cg + ci
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    // Coordinates in the unpadded input.
                                    var iy = oy * stride.0 + ky * dilation.0 - padding.0
                                    var ix = ox * stride.1 + kx * dilation.1 - padding.2
                                    if mode == .reflect {
                                        iy = reflect(iy, h)
                                        ix = reflect(ix, w)
                                    } else if iy < 0 || iy >= h || ix < 0 || ix >= w {
                                        continue
                                    }
                                    let xv = x[((b * c + ic) * h + iy) * w + ix]
                                    let wv = weight[((oc * cg + ci) * kh + ky) * kw + kx]
                                    acc += xv * wv
                                }
                            }
                        }
                        out[((b * o + oc) * ho + oy) * wo + ox] = acc
                    }
                }
            }
        }
        return (out, [n, o, ho, wo])
    }

    /// `alpha * (A @ B)` with A = a or a^T, B = b or b^T on the last two dims, batch dims
    /// broadcast as `torch.matmul`.
    static func matmul(_ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int],
                       transposeA: Bool, transposeB: Bool, alpha: Double) -> Out {
        let ra = aShape.count, rb = bShape.count
        let m = transposeA ? aShape[ra - 1] : aShape[ra - 2]
        let k = transposeA ? aShape[ra - 2] : aShape[ra - 1]
        let kb = transposeB ? bShape[rb - 1] : bShape[rb - 2]
        let n = transposeB ? bShape[rb - 2] : bShape[rb - 1]
        precondition(k == kb)
        let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
        let batch = broadcastShape(aBatch, bBatch)
        var out = [Double](repeating: 0, count: count(batch) * m * n)
        for bi in 0..<count(batch) {
            let idx = unravel(bi, batch)
            let ia = broadcastIndex(idx, aBatch), ib = broadcastIndex(idx, bBatch)
            for i in 0..<m {
                for j in 0..<n {
                    var acc = 0.0
                    for p in 0..<k {
                        let av = transposeA ? a[ia * m * k + p * m + i] : a[ia * m * k + i * k + p]
                        let bv = transposeB ? b[ib * k * n + j * k + p] : b[ib * k * n + p * n + j]
                        acc += av * bv
                    }
                    out[(bi * m + i) * n + j] = alpha * acc
                }
            }
        }
        return (out, batch + [m, n])
    }

    /// `nn.Linear`: y = x W^T + b; x [..., K], weight [N, K], bias [N].
    static func linear(_ x: [Double], _ xShape: [Int], weight: [Double], _ wShape: [Int], bias: [Double]?) -> Out {
        let nOut = wShape[0], k = wShape[1]
        precondition(xShape.last == k)
        let rows = count(xShape) / k
        var out = [Double](repeating: 0, count: rows * nOut)
        for r in 0..<rows {
            for j in 0..<nOut {
                var acc = bias?[j] ?? 0
                for p in 0..<k { acc += x[r * k + p] * weight[j * k + p] }
                out[r * nOut + j] = acc
            }
        }
        return (out, Array(xShape.dropLast()) + [nOut])
    }

    // MARK: - Normalisation

    /// Per pixel LayerNorm over C of x [N,C,H,W] (biased variance, eps inside the sqrt).
    static func layerNormChannels(_ x: [Double], _ shape: [Int], weight: [Double], bias: [Double]?, eps: Double) -> Out {
        let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for p in 0..<hw {
                var mean = 0.0
                for ch in 0..<c { mean += x[(b * c + ch) * hw + p] }
                mean /= Double(c)
                var variance = 0.0
                for ch in 0..<c {
                    let d = x[(b * c + ch) * hw + p] - mean
                    variance += d * d
                }
                variance /= Double(c)
                let inv = 1 / (variance + eps).squareRoot()
                for ch in 0..<c {
                    let i = (b * c + ch) * hw + p
                    out[i] = (x[i] - mean) * inv * weight[ch] + (bias?[ch] ?? 0)
                }
            }
        }
        return (out, shape)
    }

    /// `F.layer_norm` over the last dimension.
    static func layerNorm(_ x: [Double], _ shape: [Int], weight: [Double], bias: [Double]?, eps: Double) -> Out {
        let c = shape.last!
        let rows = count(shape) / c
        var out = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            var mean = 0.0
            for i in 0..<c { mean += x[r * c + i] }
            mean /= Double(c)
            var variance = 0.0
            for i in 0..<c {
                let d = x[r * c + i] - mean
                variance += d * d
            }
            variance /= Double(c)
            let inv = 1 / (variance + eps).squareRoot()
            for i in 0..<c {
                out[r * c + i] = (x[r * c + i] - mean) * inv * weight[i] + (bias?[i] ?? 0)
            }
        }
        return (out, shape)
    }

    /// `F.group_norm`: x [N,C,...]; statistics per (sample, group) over C/groups x spatial.
    static func groupNorm(_ x: [Double], _ shape: [Int], groups: Int, weight: [Double], bias: [Double], eps: Double) -> Out {
        let n = shape[0], c = shape[1]
        let spatial = count(Array(shape.dropFirst(2)))
        let cg = c / groups
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for g in 0..<groups {
                var mean = 0.0
                for ch in g * cg..<(g + 1) * cg {
                    for p in 0..<spatial { mean += x[(b * c + ch) * spatial + p] }
                }
                mean /= Double(cg * spatial)
                var variance = 0.0
                for ch in g * cg..<(g + 1) * cg {
                    for p in 0..<spatial {
                        let d = x[(b * c + ch) * spatial + p] - mean
                        variance += d * d
                    }
                }
                variance /= Double(cg * spatial)
                let inv = 1 / (variance + eps).squareRoot()
                for ch in g * cg..<(g + 1) * cg {
                    for p in 0..<spatial {
                        let i = (b * c + ch) * spatial + p
                        out[i] = (x[i] - mean) * inv * weight[ch] + bias[ch]
                    }
                }
            }
        }
        return (out, shape)
    }

    /// Mean and `std = sqrt(mean((x - mean)^2) + eps)` of each sample (everything but dim 0).
    static func sampleStats(_ x: [Double], _ shape: [Int], eps: Double) -> [(mean: Double, std: Double)] {
        let n = shape[0]
        let per = count(shape) / n
        return (0..<n).map { b in
            var mean = 0.0
            for i in 0..<per { mean += x[b * per + i] }
            mean /= Double(per)
            var variance = 0.0
            for i in 0..<per {
                let d = x[b * per + i] - mean
                variance += d * d
            }
            variance /= Double(per)
            return (mean, (variance + eps).squareRoot())
        }
    }

    /// TextFusion / DehazeFormer RLN: `(x - mean) / std * weight[c] + bias[c]`, x [N,C,H,W].
    static func globalNorm(_ x: [Double], _ shape: [Int], weight: [Double], bias: [Double], eps: Double) -> Out {
        let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
        let stats = sampleStats(x, shape, eps: eps)
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for p in 0..<hw {
                    let i = (b * c + ch) * hw + p
                    out[i] = (x[i] - stats[b].mean) / stats[b].std * weight[ch] + bias[ch]
                }
            }
        }
        return (out, shape)
    }

    /// [N, 2] of (mean, std) per sample.
    static func globalStats(_ x: [Double], _ shape: [Int], eps: Double) -> Out {
        let stats = sampleStats(x, shape, eps: eps)
        return (stats.flatMap { [$0.mean, $0.std] }, [shape[0], 2])
    }

    /// Softmax over the last dimension.
    static func softmax(_ x: [Double], _ shape: [Int]) -> Out {
        let c = shape.last!
        let rows = count(shape) / c
        var out = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            var mx = -Double.infinity
            for i in 0..<c { mx = max(mx, x[r * c + i]) }
            var sum = 0.0
            for i in 0..<c { sum += exp(x[r * c + i] - mx) }
            for i in 0..<c { out[r * c + i] = exp(x[r * c + i] - mx) / sum }
        }
        return (out, shape)
    }

    // MARK: - Elementwise

    static func unary(_ kind: UnaryKind, _ x: [Double], _ shape: [Int]) -> Out {
        let out = x.map { v -> Double in
            switch kind {
            case .relu: return v > 0 ? v : 0
            case let .leakyReLU(slope): return v > 0 ? v : Double(slope) * v
            case .gelu: return 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            case .quickGELU: return v * (1 / (1 + exp(-1.702 * v)))
            case .tanh: return Foundation.tanh(v)
            case .sigmoid: return 1 / (1 + exp(-v))
            case let .affine(scale, shift): return v * Double(scale) + Double(shift)
            }
        }
        return (out, shape)
    }

    /// Elementwise with NumPy broadcasting.
    static func binary(_ kind: BinaryKind, _ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int]) -> Out {
        let shape = broadcastShape(aShape, bShape)
        var out = [Double](repeating: 0, count: count(shape))
        for i in 0..<out.count {
            let idx = unravel(i, shape)
            let av = a[broadcastIndex(idx, aShape)], bv = b[broadcastIndex(idx, bShape)]
            switch kind {
            case .add: out[i] = av + bv
            case .sub: out[i] = av - bv
            case .mul: out[i] = av * bv
            case .div: out[i] = av / bv
            }
        }
        return (out, shape)
    }

    /// `(1 + gamma[n,c]) * x + beta[n,c]`, x [N,C,H,W].
    static func film(_ x: [Double], _ shape: [Int], gamma: [Double], beta: [Double]) -> Out {
        let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for p in 0..<hw {
                    let i = (b * c + ch) * hw + p
                    out[i] = (1 + gamma[b * c + ch]) * x[i] + beta[b * c + ch]
                }
            }
        }
        return (out, shape)
    }

    /// `F.prelu`: x [N,C,...], slope [C] or [1].
    static func prelu(_ x: [Double], _ shape: [Int], slope: [Double]) -> Out {
        let n = shape[0], c = shape[1]
        let spatial = count(Array(shape.dropFirst(2)))
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                let s = slope.count == 1 ? slope[0] : slope[ch]
                for p in 0..<spatial {
                    let i = (b * c + ch) * spatial + p
                    out[i] = x[i] >= 0 ? x[i] : s * x[i]
                }
            }
        }
        return (out, shape)
    }

    // MARK: - Data movement

    /// `F.pixel_shuffle`: out[n, c, y*r+dy, x*r+dx] = in[n, c*r*r + dy*r + dx, y, x].
    static func pixelShuffle(_ x: [Double], _ shape: [Int], factor r: Int) -> Out {
        let n = shape[0], cin = shape[1], h = shape[2], w = shape[3]
        let c = cin / (r * r)
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for y in 0..<h {
                    for xx in 0..<w {
                        for dy in 0..<r {
                            for dx in 0..<r {
                                let src = ((b * cin + ch * r * r + dy * r + dx) * h + y) * w + xx
                                let dst = ((b * c + ch) * (h * r) + y * r + dy) * (w * r) + xx * r + dx
                                out[dst] = x[src]
                            }
                        }
                    }
                }
            }
        }
        return (out, [n, c, h * r, w * r])
    }

    /// `F.pixel_unshuffle`: out[n, c*r*r + dy*r + dx, y, x] = in[n, c, r*y+dy, r*x+dx].
    static func pixelUnshuffle(_ x: [Double], _ shape: [Int], factor r: Int) -> Out {
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        let ho = h / r, wo = w / r
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for dy in 0..<r {
                    for dx in 0..<r {
                        for y in 0..<ho {
                            for xx in 0..<wo {
                                let dst = ((b * c * r * r + ch * r * r + dy * r + dx) * ho + y) * wo + xx
                                let src = ((b * c + ch) * h + r * y + dy) * w + r * xx + dx
                                out[dst] = x[src]
                            }
                        }
                    }
                }
            }
        }
        return (out, [n, c * r * r, ho, wo])
    }

    /// `torch.cat` along `axis`.
    static func concat(_ xs: [([Double], [Int])], axis: Int) -> Out {
        var shape = xs[0].1
        shape[axis] = xs.reduce(0) { $0 + $1.1[axis] }
        var out = [Double](repeating: 0, count: count(shape))
        for i in 0..<out.count {
            var idx = unravel(i, shape)
            var which = 0
            while idx[axis] >= xs[which].1[axis] {
                idx[axis] -= xs[which].1[axis]
                which += 1
            }
            out[i] = xs[which].0[ravel(idx, xs[which].1)]
        }
        return (out, shape)
    }

    /// `x.narrow(axis, start, length)`.
    static func slice(_ x: [Double], _ shape: [Int], axis: Int, start: Int, length: Int) -> Out {
        var outShape = shape
        outShape[axis] = length
        var out = [Double](repeating: 0, count: count(outShape))
        for i in 0..<out.count {
            var idx = unravel(i, outShape)
            idx[axis] += start
            out[i] = x[ravel(idx, shape)]
        }
        return (out, outShape)
    }

    /// `F.pad(x, (left, right, top, bottom), mode)` on [N,C,H,W], mode "reflect" or "constant" 0.
    static func pad(_ x: [Double], _ shape: [Int], top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode) -> Out {
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        let ho = h + top + bottom, wo = w + left + right
        var out = [Double](repeating: 0, count: n * c * ho * wo)
        for b in 0..<n {
            for ch in 0..<c {
                for y in 0..<ho {
                    for xx in 0..<wo {
                        var iy = y - top, ix = xx - left
                        if mode == .reflect {
                            iy = reflect(iy, h)
                            ix = reflect(ix, w)
                        } else if iy < 0 || iy >= h || ix < 0 || ix >= w {
                            continue
                        }
                        out[((b * c + ch) * ho + y) * wo + xx] = x[((b * c + ch) * h + iy) * w + ix]
                    }
                }
            }
        }
        return (out, [n, c, ho, wo])
    }

    /// `x[:, :, y:y+height, x:x+width]`.
    static func crop(_ x: [Double], _ shape: [Int], y: Int, x x0: Int, height: Int, width: Int) -> Out {
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        var out = [Double](repeating: 0, count: n * c * height * width)
        for b in 0..<n {
            for ch in 0..<c {
                for yy in 0..<height {
                    for xx in 0..<width {
                        out[((b * c + ch) * height + yy) * width + xx] = x[((b * c + ch) * h + y + yy) * w + x0 + xx]
                    }
                }
            }
        }
        return (out, [n, c, height, width])
    }

    /// `F.embedding`: ids [...] -> [..., D] rows of table [V, D].
    static func embedding(ids: [Int32], _ idsShape: [Int], table: [Double], _ tableShape: [Int]) -> Out {
        let v = tableShape[0], d = tableShape[1]
        var out = [Double](repeating: 0, count: ids.count * d)
        for (i, id) in ids.enumerated() {
            let row = Int(id)
            precondition(row >= 0 && row < v)
            for j in 0..<d { out[i * d + j] = table[row * d + j] }
        }
        return (out, idsShape + [d])
    }

    /// `x.reshape(shape)`: the same elements in the same order.
    static func reshape(_ x: [Double], _ shape: [Int], to newShape: [Int]) -> Out {
        precondition(count(shape) == count(newShape))
        return (x, newShape)
    }

    /// `x.permute(perm)`: out[i_0, ..., i_{r-1}] = x[j] with j[perm[d]] = i_d.
    static func permute(_ x: [Double], _ shape: [Int], _ perm: [Int]) -> Out {
        let outShape = perm.map { shape[$0] }
        var out = [Double](repeating: 0, count: x.count)
        for i in 0..<out.count {
            let idx = unravel(i, outShape)
            var src = Array(repeating: 0, count: shape.count)
            for d in 0..<perm.count { src[perm[d]] = idx[d] }
            out[i] = x[ravel(src, shape)]
        }
        return (out, outShape)
    }

    // MARK: - Attention

    /// Restormer transposed ("channel") attention on q, k, v [N,C,H,W]:
    /// per head h (channels h*Ch..<(h+1)*Ch) q and k rows are `F.normalize`d over H*W
    /// (x / max(||x||, 1e-12)), attn = softmax((q k^T) * temperature[h]) over the last dim,
    /// out = attn v.
    static func channelAttention(q: [Double], k: [Double], v: [Double], _ shape: [Int],
                                 temperature: [Double], heads: Int) -> Out {
        let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
        let ch = c / heads
        var out = [Double](repeating: 0, count: q.count)
        func normalized(_ t: [Double], _ b: Int, _ channel: Int) -> [Double] {
            let base = (b * c + channel) * hw
            var norm = 0.0
            for p in 0..<hw { norm += t[base + p] * t[base + p] }
            let denom = max(norm.squareRoot(), 1e-12)
            return (0..<hw).map { t[base + $0] / denom }
        }
        for b in 0..<n {
            for h in 0..<heads {
                let qs = (0..<ch).map { normalized(q, b, h * ch + $0) }
                let ks = (0..<ch).map { normalized(k, b, h * ch + $0) }
                // Full Ch x Ch score matrix.
                var attn = [[Double]](repeating: [Double](repeating: 0, count: ch), count: ch)
                for i in 0..<ch {
                    for j in 0..<ch {
                        var dot = 0.0
                        for p in 0..<hw { dot += qs[i][p] * ks[j][p] }
                        attn[i][j] = dot * temperature[h]
                    }
                    let row = softmax(attn[i], [ch]).data
                    attn[i] = row
                }
                for i in 0..<ch {
                    for p in 0..<hw {
                        var acc = 0.0
                        for j in 0..<ch { acc += attn[i][j] * v[(b * c + h * ch + j) * hw + p] }
                        out[(b * c + h * ch + i) * hw + p] = acc
                    }
                }
            }
        }
        return (out, shape)
    }

    /// Scaled dot-product attention on q [B,H,Nq,d], k [B,H,Nk,d], v [B,H,Nk,dv] with an
    /// optional additive bias broadcast to [B,H,Nq,Nk]. With `causal`, key j is visible to
    /// query i iff j <= i + (Nk - Nq). Materialises the full score matrix (fine in a reference).
    static func attention(q: [Double], _ qShape: [Int], k: [Double], _ kShape: [Int], v: [Double], _ vShape: [Int],
                          bias: ([Double], [Int])?, scale: Double, causal: Bool) -> Out {
        let bN = qShape[0], hN = qShape[1], nq = qShape[2], d = qShape[3]
        let nk = kShape[2], dv = vShape[3]
        var out = [Double](repeating: 0, count: bN * hN * nq * dv)
        for b in 0..<bN {
            for h in 0..<hN {
                let qBase = (b * hN + h) * nq * d
                let kBase = (b * hN + h) * nk * d
                let vBase = (b * hN + h) * nk * dv
                for i in 0..<nq {
                    var scores = [Double](repeating: -Double.infinity, count: nk)
                    for j in 0..<nk {
                        if causal && j > i + (nk - nq) { continue }
                        var dot = 0.0
                        for p in 0..<d { dot += q[qBase + i * d + p] * k[kBase + j * d + p] }
                        var s = dot * scale
                        if let (bv, bs) = bias { s += bv[broadcastIndex([b, h, i, j], bs)] }
                        scores[j] = s
                    }
                    let mx = scores.max()!
                    precondition(mx > -Double.infinity, "query \(i) sees no key")
                    let e = scores.map { exp($0 - mx) }
                    let sum = e.reduce(0, +)
                    for c in 0..<dv {
                        var acc = 0.0
                        for j in 0..<nk { acc += e[j] / sum * v[vBase + j * dv + c] }
                        out[((b * hN + h) * nq + i) * dv + c] = acc
                    }
                }
            }
        }
        return (out, [bN, hN, nq, dv])
    }

    /// Window attention (Swin without shift) on q, k [N,C,H,W], v [N,Cv,H,W], bias [heads, T, T]
    /// with T = window^2: the image is cut into window x window blocks; tokens are the pixels
    /// of a block in row-major order; head h uses channels h*C/heads.. of q/k and
    /// h*Cv/heads.. of v; out = softmax(q k^T * scale + bias[h]) v written to the same pixels.
    static func windowAttention(q: [Double], k: [Double], _ qShape: [Int], v: [Double], _ vShape: [Int],
                                bias: [Double], heads: Int, window: Int, scale: Double) -> Out {
        let n = qShape[0], c = qShape[1], h = qShape[2], w = qShape[3]
        let cv = vShape[1]
        let chq = c / heads, chv = cv / heads
        let t = window * window
        var out = [Double](repeating: 0, count: n * cv * h * w)
        for b in 0..<n {
            for wy in 0..<(h / window) {
                for wx in 0..<(w / window) {
                    // Pixel (row, col) of token i.
                    let pix: [(Int, Int)] = (0..<t).map { i in (wy * window + i / window, wx * window + i % window) }
                    for head in 0..<heads {
                        for i in 0..<t {
                            var scores = [Double](repeating: 0, count: t)
                            for j in 0..<t {
                                var dot = 0.0
                                for cc in 0..<chq {
                                    let ch = head * chq + cc
                                    dot += q[((b * c + ch) * h + pix[i].0) * w + pix[i].1]
                                        * k[((b * c + ch) * h + pix[j].0) * w + pix[j].1]
                                }
                                scores[j] = dot * scale + bias[(head * t + i) * t + j]
                            }
                            let p = softmax(scores, [t]).data
                            for cc in 0..<chv {
                                let ch = head * chv + cc
                                var acc = 0.0
                                for j in 0..<t { acc += p[j] * v[((b * cv + ch) * h + pix[j].0) * w + pix[j].1] }
                                out[((b * cv + ch) * h + pix[i].0) * w + pix[i].1] = acc
                            }
                        }
                    }
                }
            }
        }
        return (out, [n, cv, h, w])
    }

    // MARK: - Resize

    /// Bicubic convolution kernel with a = -0.75 (PyTorch `upsample_bicubic2d`):
    /// weights of the taps at offsets -1, 0, 1, 2 for fractional position t in [0, 1).
    static func cubicWeights(_ t: Double) -> [Double] {
        let a = -0.75
        func near(_ x: Double) -> Double { ((a + 2) * x - (a + 3)) * x * x + 1 }          // |x| <= 1
        func far(_ x: Double) -> Double { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }       // 1 < |x| < 2
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }

    /// `F.interpolate(x, size=(height, width), mode=..., align_corners=False)` on [N,C,H,W].
    static func resize(_ x: [Double], _ shape: [Int], mode: ResizeMode, height ho: Int, width wo: Int) -> Out {
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        var out = [Double](repeating: 0, count: n * c * ho * wo)
        func at(_ b: Int, _ ch: Int, _ y: Int, _ xx: Int) -> Double { x[((b * c + ch) * h + y) * w + xx] }
        // Source coordinate of output index `dst` (half-pixel centres).
        func source(_ dst: Int, _ inSize: Int, _ outSize: Int) -> Double {
            (Double(dst) + 0.5) * Double(inSize) / Double(outSize) - 0.5
        }
        for b in 0..<n {
            for ch in 0..<c {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var value = 0.0
                        switch mode {
                        case .nearest:
                            // floor(dst * in / out), exactly.
                            let iy = min(oy * h / ho, h - 1), ix = min(ox * w / wo, w - 1)
                            value = at(b, ch, iy, ix)
                        case .bilinear:
                            // Linear modes clamp negative source coordinates to 0.
                            let sy = max(source(oy, h, ho), 0), sx = max(source(ox, w, wo), 0)
                            let y0 = min(Int(sy.rounded(.down)), h - 1), x0 = min(Int(sx.rounded(.down)), w - 1)
                            let y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
                            let ly = sy - Double(y0), lx = sx - Double(x0)
                            value = (1 - ly) * ((1 - lx) * at(b, ch, y0, x0) + lx * at(b, ch, y0, x1))
                                + ly * ((1 - lx) * at(b, ch, y1, x0) + lx * at(b, ch, y1, x1))
                        case .bicubic:
                            // No clamp of the source coordinate; the 4 taps are clamped to the image.
                            let sy = source(oy, h, ho), sx = source(ox, w, wo)
                            let fy = Int(sy.rounded(.down)), fx = Int(sx.rounded(.down))
                            let wy = cubicWeights(sy - Double(fy)), wx = cubicWeights(sx - Double(fx))
                            for i in 0..<4 {
                                let yy = min(max(fy - 1 + i, 0), h - 1)
                                var row = 0.0
                                for j in 0..<4 {
                                    let xx = min(max(fx - 1 + j, 0), w - 1)
                                    row += wx[j] * at(b, ch, yy, xx)
                                }
                                value += wy[i] * row
                            }
                        }
                        out[((b * c + ch) * ho + oy) * wo + ox] = value
                    }
                }
            }
        }
        return (out, [n, c, ho, wo])
    }
}
