import FusionCore

/// Global max / average pooling: x [N,C,H,W] -> [N,C,1,1]. Means sum in float64 (as the
/// CPU's other statistics do), so long planes lose nothing to the order of the sum.
func globalPool(_ kind: PoolKind, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let planes = shape[0] * shape[1], hw = shape[2] * shape[3]
    if planes == 0 || hw == 0 { return }
    parallelFor(planes, threads: ctx.threads, grain: max(1, 16384 / hw)) { p in
        let v = x + p * hw
        switch kind {
        case .max:
            var m = v[0]
            for i in 1..<hw { m = max(m, v[i]) }
            out[p] = m
        case .mean:
            var s = 0.0
            for i in 0..<hw { s += Double(v[i]) }
            out[p] = Float(s / Double(hw))
        }
    }
}

/// Max / mean over the channels of each pixel: x [N,C,H,W] -> [N,1,H,W]. The mean is the
/// float32 sum in channel order divided by C (as the Vulkan kernel computes it).
func channelReduce(_ kind: PoolKind, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
    if n == 0 || c == 0 || hw == 0 { return }
    let chunk = 4096
    let chunks = (hw + chunk - 1) / chunk
    parallelFor(n * chunks, threads: ctx.threads) { t in
        let b = t / chunks, start = (t % chunks) * chunk, count = min(chunk, hw - start)
        let dst = out + b * hw + start
        let src = x + b * c * hw + start
        dst.update(from: src, count: count)
        for ch in 1..<max(c, 1) {
            let plane = src + ch * hw
            switch kind {
            case .max: for i in 0..<count { dst[i] = max(dst[i], plane[i]) }
            case .mean: for i in 0..<count { dst[i] += plane[i] }
            }
        }
        if kind == .mean {
            let scale = Float(c)
            for i in 0..<count { dst[i] /= scale }
        }
    }
}
