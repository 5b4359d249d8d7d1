import Foundation

/// Float64 token, window and channel attention: the full score matrix of each head
/// materialised and soft-maxed row by row (fine in a reference, unlike in the kernels).
public enum AttentionReference64 {
    /// The softmax of `scores`; zeros when every score is -inf (a query that sees no key, as
    /// `Op.attention` defines).
    private static func weights(_ scores: [Double]) -> [Double] {
        let mx = scores.max() ?? -.infinity
        guard mx > -.infinity else { return [Double](repeating: 0, count: scores.count) }
        let e = scores.map { exp($0 - mx) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// Restormer transposed ("channel") attention on q, k, v [N,C,H,W]: per head h (channels
    /// h*Ch..<(h+1)*Ch) q and k rows are `F.normalize`d over H*W (x / max(||x||, 1e-12)),
    /// attn = softmax((q k^T) * temperature[h]) over the last dim, out = attn v.
    public static func channelAttention(q: Float64Tensor, k: Float64Tensor, v: Float64Tensor, temperature: Float64Tensor,
                                        heads: Int) -> Float64Tensor {
        let n = q.shape[0], c = q.shape[1], hw = q.shape[2] * q.shape[3]
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
                let qs = (0..<ch).map { normalized(q.data, b, h * ch + $0) }
                let ks = (0..<ch).map { normalized(k.data, b, h * ch + $0) }
                for i in 0..<ch {
                    var scores = [Double](repeating: 0, count: ch)
                    for j in 0..<ch {
                        var dot = 0.0
                        for p in 0..<hw { dot += qs[i][p] * ks[j][p] }
                        scores[j] = dot * temperature.data[h]
                    }
                    let attn = weights(scores)
                    for p in 0..<hw {
                        var acc = 0.0
                        for j in 0..<ch { acc += attn[j] * v.data[(b * c + h * ch + j) * hw + p] }
                        out[(b * c + h * ch + i) * hw + p] = acc
                    }
                }
            }
        }
        return Float64Tensor(out, q.shape)
    }

    /// Scaled dot-product attention on q [B,H,Nq,d], k [B,H,Nk,d], v [B,H,Nk,dv] with an
    /// optional additive bias broadcast to [B,H,Nq,Nk]. With `causal`, key j is visible to
    /// query i iff j <= i + (Nk - Nq); a query that sees no key (or only -inf biases) gives zeros.
    public static func attention(q: Float64Tensor, k: Float64Tensor, v: Float64Tensor, bias: Float64Tensor?, scale: Double,
                                 causal: Bool) -> Float64Tensor {
        let bN = q.shape[0], hN = q.shape[1], nq = q.shape[2], d = q.shape[3]
        let nk = k.shape[2], dv = v.shape[3]
        var out = [Double](repeating: 0, count: bN * hN * nq * dv)
        for b in 0..<bN {
            for h in 0..<hN {
                let qBase = (b * hN + h) * nq * d, kBase = (b * hN + h) * nk * d, vBase = (b * hN + h) * nk * dv
                for i in 0..<nq {
                    var scores = [Double](repeating: -.infinity, count: nk)
                    for j in 0..<nk {
                        if causal && j > i + (nk - nq) { continue }
                        var dot = 0.0
                        for p in 0..<d { dot += q.data[qBase + i * d + p] * k.data[kBase + j * d + p] }
                        var s = dot * scale
                        if let bias { s += bias.data[Float64Indexing.broadcastIndex([b, h, i, j], bias.shape)] }
                        scores[j] = s
                    }
                    let p = weights(scores)
                    for c in 0..<dv {
                        var acc = 0.0
                        for j in 0..<nk where p[j] != 0 { acc += p[j] * v.data[vBase + j * dv + c] }
                        out[((b * hN + h) * nq + i) * dv + c] = acc
                    }
                }
            }
        }
        return Float64Tensor(out, [bN, hN, nq, dv])
    }

    /// Window attention (Swin without shift) on q, k [N,C,H,W], v [N,Cv,H,W], bias [heads, T, T]
    /// with T = window^2: the image is cut into window x window blocks; tokens are the pixels
    /// of a block in row-major order; head h uses channels h*C/heads.. of q/k and
    /// h*Cv/heads.. of v; out = softmax(q k^T * scale + bias[h]) v written to the same pixels.
    public static func windowAttention(q: Float64Tensor, k: Float64Tensor, v: Float64Tensor, bias: Float64Tensor, heads: Int,
                                       window: Int, scale: Double) -> Float64Tensor {
        let n = q.shape[0], c = q.shape[1], h = q.shape[2], w = q.shape[3]
        let cv = v.shape[1]
        let chq = c / heads, chv = cv / heads
        let t = window * window
        var out = [Double](repeating: 0, count: n * cv * h * w)
        for b in 0..<n {
            for wy in 0..<(h / window) {
                for wx in 0..<(w / window) {
                    // Pixel offset (row * w + col) of token i.
                    let pix: [Int] = (0..<t).map { i in (wy * window + i / window) * w + wx * window + i % window }
                    for head in 0..<heads {
                        for i in 0..<t {
                            var scores = [Double](repeating: 0, count: t)
                            for j in 0..<t {
                                var dot = 0.0
                                for cc in 0..<chq {
                                    let plane = (b * c + head * chq + cc) * h * w
                                    dot += q.data[plane + pix[i]] * k.data[plane + pix[j]]
                                }
                                scores[j] = dot * scale + bias.data[(head * t + i) * t + j]
                            }
                            let p = weights(scores)
                            for cc in 0..<chv {
                                let plane = (b * cv + head * chv + cc) * h * w
                                var acc = 0.0
                                for j in 0..<t { acc += p[j] * v.data[plane + pix[j]] }
                                out[plane + pix[i]] = acc
                            }
                        }
                    }
                }
            }
        }
        return Float64Tensor(out, [n, cv, h, w])
    }
}
