import Foundation

/// Float64 norms, global statistics and softmax: two-pass mean and biased variance, sums in
/// index order (float64 keeps them exact enough for any fp32 comparison).
public enum ReductionReference64 {
    /// Per pixel LayerNorm over C of x [N,C,H,W] (biased variance, eps inside the sqrt).
    public static func layerNormChannels(_ x: Float64Tensor, weight: Float64Tensor, bias: Float64Tensor?, eps: Double) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
        let xv = x.data, wv = weight.data, bv = bias?.data
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for p in 0..<hw {
                var mean = 0.0
                for ch in 0..<c { mean += xv[(b * c + ch) * hw + p] }
                mean /= Double(c)
                var variance = 0.0
                for ch in 0..<c {
                    let d = xv[(b * c + ch) * hw + p] - mean
                    variance += d * d
                }
                variance /= Double(c)
                let inv = 1 / (variance + eps).squareRoot()
                for ch in 0..<c {
                    let i = (b * c + ch) * hw + p
                    out[i] = (xv[i] - mean) * inv * wv[ch] + (bv?[ch] ?? 0)
                }
            }
        }
        return Float64Tensor(out, x.shape)
    }

    /// `F.layer_norm` over the last dimension.
    public static func layerNorm(_ x: Float64Tensor, weight: Float64Tensor, bias: Float64Tensor?, eps: Double) -> Float64Tensor {
        let c = x.shape.last!
        let rows = x.count / c
        let xv = x.data, wv = weight.data, bv = bias?.data
        var out = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            var mean = 0.0
            for i in 0..<c { mean += xv[r * c + i] }
            mean /= Double(c)
            var variance = 0.0
            for i in 0..<c {
                let d = xv[r * c + i] - mean
                variance += d * d
            }
            variance /= Double(c)
            let inv = 1 / (variance + eps).squareRoot()
            for i in 0..<c { out[r * c + i] = (xv[r * c + i] - mean) * inv * wv[i] + (bv?[i] ?? 0) }
        }
        return Float64Tensor(out, x.shape)
    }

    /// `F.group_norm`: x [N,C,...]; statistics per (sample, group) over C/groups x spatial.
    public static func groupNorm(_ x: Float64Tensor, groups: Int, weight: Float64Tensor, bias: Float64Tensor, eps: Double) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1]
        let spatial = Float64Indexing.count(Array(x.shape.dropFirst(2)))
        let cg = c / groups
        let xv = x.data, wv = weight.data, bv = bias.data
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for g in 0..<groups {
                let start = (b * c + g * cg) * spatial, end = start + cg * spatial
                var mean = 0.0
                for i in start..<end { mean += xv[i] }
                mean /= Double(cg * spatial)
                var variance = 0.0
                for i in start..<end {
                    let d = xv[i] - mean
                    variance += d * d
                }
                variance /= Double(cg * spatial)
                let inv = 1 / (variance + eps).squareRoot()
                for i in start..<end {
                    let ch = (i / spatial) % c
                    out[i] = (xv[i] - mean) * inv * wv[ch] + bv[ch]
                }
            }
        }
        return Float64Tensor(out, x.shape)
    }

    /// Mean and `std = sqrt(mean((x - mean)^2) + eps)` of each sample (everything but dim 0).
    public static func sampleStats(_ x: Float64Tensor, eps: Double) -> [(mean: Double, std: Double)] {
        let n = x.shape[0]
        let per = x.count / n
        let xv = x.data
        return (0..<n).map { b in
            var mean = 0.0
            for i in 0..<per { mean += xv[b * per + i] }
            mean /= Double(per)
            var variance = 0.0
            for i in 0..<per {
                let d = xv[b * per + i] - mean
                variance += d * d
            }
            variance /= Double(per)
            return (mean, (variance + eps).squareRoot())
        }
    }

    /// TextFusion / DehazeFormer RLN: `(x - mean) / std * weight[c] + bias[c]`, x [N,C,H,W].
    public static func globalNorm(_ x: Float64Tensor, weight: Float64Tensor, bias: Float64Tensor, eps: Double) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
        let stats = sampleStats(x, eps: eps)
        let xv = x.data, wv = weight.data, bv = bias.data
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for p in 0..<hw {
                    let i = (b * c + ch) * hw + p
                    out[i] = (xv[i] - stats[b].mean) / stats[b].std * wv[ch] + bv[ch]
                }
            }
        }
        return Float64Tensor(out, x.shape)
    }

    /// [N, 2] of (mean, std) per sample.
    public static func globalStats(_ x: Float64Tensor, eps: Double) -> Float64Tensor {
        Float64Tensor(sampleStats(x, eps: eps).flatMap { [$0.mean, $0.std] }, [x.shape[0], 2])
    }

    /// Softmax over the last dimension (the row's maximum subtracted first).
    public static func softmax(_ x: Float64Tensor) -> Float64Tensor {
        let c = x.shape.last!
        let rows = x.count / c
        let xv = x.data
        var out = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            var mx = -Double.infinity
            for i in 0..<c { mx = max(mx, xv[r * c + i]) }
            var sum = 0.0
            for i in 0..<c { sum += exp(xv[r * c + i] - mx) }
            for i in 0..<c { out[r * c + i] = exp(xv[r * c + i] - mx) / sum }
        }
        return Float64Tensor(out, x.shape)
    }
}
