import FusionCore

// Normalisations. Statistics are two-pass (mean, then mean squared deviation) and
// accumulated in Double; the normalisation itself is evaluated in Double and rounded once.

/// Per-pixel LayerNorm over channels of [N,C,H,W] (biased variance, eps inside the sqrt).
func layerNormChannels(eps: Float, x: UnsafePointer<Float>, shape: [Int], weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
    if n * c * hw == 0 { return }
    let block = 256
    let blocks = (hw + block - 1) / block
    let tasks = n * blocks
    let workers = workerCount(tasks, threads: ctx.threads)
    let buffers = ctx.scratch.bytes(workers * 2 * block * MemoryLayout<Double>.stride)
        .assumingMemoryBound(to: Double.self)
    let invC = 1.0 / Double(c), epsD = Double(eps)
    parallelTasks(tasks, threads: ctx.threads) { worker, t in
        let ni = t / blocks, p0 = (t % blocks) * block
        let len = min(block, hw - p0)
        let mean = buffers + worker * 2 * block, rstd = mean + block
        let base = ni * c * hw + p0
        mean.update(repeating: 0, count: len)
        for ci in 0..<c {
            let row = x + base + ci * hw
            for i in 0..<len { mean[i] += Double(row[i]) }
        }
        for i in 0..<len { mean[i] *= invC }
        rstd.update(repeating: 0, count: len)
        for ci in 0..<c {
            let row = x + base + ci * hw
            for i in 0..<len { let d = Double(row[i]) - mean[i]; rstd[i] += d * d }
        }
        for i in 0..<len { rstd[i] = 1 / (rstd[i] * invC + epsD).squareRoot() }
        for ci in 0..<c {
            let row = x + base + ci * hw, dst = out + base + ci * hw
            let w = Double(weight[ci]), b = Double(bias?[ci] ?? 0)
            for i in 0..<len { dst[i] = Float((Double(row[i]) - mean[i]) * rstd[i] * w + b) }
        }
    }
}

/// F.layer_norm over the last dimension.
func layerNorm(eps: Float, x: UnsafePointer<Float>, shape: [Int], weight: UnsafePointer<Float>,
               bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let c = shape.last ?? 1
    let total = shape.reduce(1, *)
    if total == 0 || c == 0 { return }
    let rows = total / c
    parallelFor(rows, threads: ctx.threads, grain: max(1, 4096 / c)) { r in
        let src = x + r * c, dst = out + r * c
        let mean = sumDouble(src, c) / Double(c)
        let variance = sumSquaredDeviations(src, c, mean: mean) / Double(c)
        let rstd = 1 / (variance + Double(eps)).squareRoot()
        if let bias {
            for i in 0..<c { dst[i] = Float((Double(src[i]) - mean) * rstd * Double(weight[i]) + Double(bias[i])) }
        } else {
            for i in 0..<c { dst[i] = Float((Double(src[i]) - mean) * rstd * Double(weight[i])) }
        }
    }
}

/// Mean and biased variance of `blocks` contiguous blocks of `length` floats, in Double.
/// Long blocks are split into chunks summed in parallel, combined in a fixed order.
func blockMoments(_ x: UnsafePointer<Float>, blocks: Int, length: Int, ctx: KernelContext) -> [(mean: Double, variance: Double)] {
    if blocks == 0 { return [] }
    if length == 0 { return Array(repeating: (0, 0), count: blocks) }
    let chunk = 1 << 16
    let chunks = (length + chunk - 1) / chunk
    let tasks = blocks * chunks
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: tasks)
    defer { partial.deallocate() }
    parallelFor(tasks, threads: ctx.threads) { t in
        let b = t / chunks, s = (t % chunks) * chunk
        partial[t] = sumDouble(x + b * length + s, min(chunk, length - s))
    }
    var means = [Double](repeating: 0, count: blocks)
    for b in 0..<blocks {
        var s = 0.0
        for i in 0..<chunks { s += partial[b * chunks + i] }
        means[b] = s / Double(length)
    }
    means.withUnsafeBufferPointer { m in
        parallelFor(tasks, threads: ctx.threads) { t in
            let b = t / chunks, s = (t % chunks) * chunk
            partial[t] = sumSquaredDeviations(x + b * length + s, min(chunk, length - s), mean: m[b])
        }
    }
    return (0..<blocks).map { b in
        var s = 0.0
        for i in 0..<chunks { s += partial[b * chunks + i] }
        return (means[b], s / Double(length))
    }
}

/// `out = (x - mean) * rstd * weight[c] + bias[c]` where the statistics belong to the group
/// of channel `c` (`channelsPerGroup` consecutive channels share one).
private func applyGroupAffine(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, n: Int, c: Int, spatial: Int,
                              channelsPerGroup: Int, stats: [(mean: Double, rstd: Double)],
                              weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, ctx: KernelContext) {
    let chunk = 1 << 16
    let chunks = max(1, (spatial + chunk - 1) / chunk)
    let groups = c / channelsPerGroup
    stats.withUnsafeBufferPointer { st in
        parallelFor(n * c * chunks, threads: ctx.threads, grain: max(1, chunk / max(spatial, 1))) { t in
            let plane = t / chunks, s = (t % chunks) * chunk
            let len = min(chunk, spatial - s)
            if len <= 0 { return }
            let ni = plane / c, ci = plane % c
            let g = st[ni * groups + ci / channelsPerGroup]
            let scale = g.rstd * Double(weight[ci])
            let shift = Double(bias?[ci] ?? 0) - g.mean * scale
            let off = plane * spatial + s
            affineDouble(x + off, out + off, len, scale: scale, shift: shift)
        }
    }
}

/// F.group_norm on [N, C, ...].
func groupNorm(groups: Int, eps: Float, x: UnsafePointer<Float>, shape: [Int], weight: UnsafePointer<Float>,
               bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = shape[0], c = shape[1]
    let spatial = shape.dropFirst(2).reduce(1, *)
    if n * c * spatial == 0 { return }
    let cpg = c / groups
    let moments = blockMoments(x, blocks: n * groups, length: cpg * spatial, ctx: ctx)
    let stats = moments.map { (mean: $0.mean, rstd: 1 / ($0.variance + Double(eps)).squareRoot()) }
    applyGroupAffine(x: x, out: out, n: n, c: c, spatial: spatial, channelsPerGroup: cpg, stats: stats,
                     weight: weight, bias: bias, ctx: ctx)
}

/// TextFusion's RLN: mean and std over C*H*W per sample, `std = sqrt(var + eps)`.
func globalNorm(eps: Float, x: UnsafePointer<Float>, shape: [Int], weight: UnsafePointer<Float>,
                bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = shape[0], c = shape[1], spatial = shape[2] * shape[3]
    if n * c * spatial == 0 { return }
    let moments = blockMoments(x, blocks: n, length: c * spatial, ctx: ctx)
    let stats = moments.map { (mean: $0.mean, rstd: 1 / ($0.variance + Double(eps)).squareRoot()) }
    applyGroupAffine(x: x, out: out, n: n, c: c, spatial: spatial, channelsPerGroup: c, stats: stats,
                     weight: weight, bias: bias, ctx: ctx)
}

/// [N, ...] -> [N, 2] of (mean, std) with `std = sqrt(var + eps)`.
func globalStats(eps: Float, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = shape[0]
    if n == 0 { return }
    let length = shape.dropFirst().reduce(1, *)
    let moments = blockMoments(x, blocks: n, length: length, ctx: ctx)
    for (i, m) in moments.enumerated() {
        out[2 * i] = Float(m.mean)
        out[2 * i + 1] = Float((m.variance + Double(eps)).squareRoot())
    }
}

/// Softmax over the last dimension.
func softmax(x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let l = shape.last ?? 1
    let total = shape.reduce(1, *)
    if total == 0 || l == 0 { return }
    parallelFor(total / l, threads: ctx.threads, grain: max(1, 8192 / l)) { r in
        softmaxRow(x + r * l, out + r * l, l)
    }
}
