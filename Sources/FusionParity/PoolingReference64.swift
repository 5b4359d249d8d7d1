import FusionCore

extension ReductionReference64 {
    /// Max or mean of each channel's plane of x [N,C,H,W] -> [N,C,1,1].
    public static func globalPool(_ kind: PoolKind, _ x: Float64Tensor) -> Float64Tensor {
        let planes = x.shape[0] * x.shape[1], hw = x.shape[2] * x.shape[3]
        var out = [Double](repeating: 0, count: planes)
        for p in 0..<planes {
            let plane = x.data[(p * hw)..<((p + 1) * hw)]
            switch kind {
            case .max: out[p] = plane.max()!
            case .mean: out[p] = plane.reduce(0, +) / Double(hw)
            }
        }
        return Float64Tensor(out, [x.shape[0], x.shape[1], 1, 1])
    }

    /// Max or mean over the channels of each pixel of x [N,C,H,W] -> [N,1,H,W].
    public static func channelReduce(_ kind: PoolKind, _ x: Float64Tensor) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
        var out = [Double](repeating: 0, count: n * hw)
        for b in 0..<n {
            for p in 0..<hw {
                var r = x.data[b * c * hw + p]
                for ch in 1..<c {
                    let v = x.data[(b * c + ch) * hw + p]
                    switch kind {
                    case .max: r = max(r, v)
                    case .mean: r += v
                    }
                }
                out[b * hw + p] = kind == .mean ? r / Double(c) : r
            }
        }
        return Float64Tensor(out, [n, 1, x.shape[2], x.shape[3]])
    }
}
