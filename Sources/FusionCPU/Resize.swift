import FusionCore

// F.interpolate(align_corners=False): nearest (PyTorch's float32 floor(dst * (in / out)),
// `ResizeMode.nearestIndex`), bilinear, bicubic
// (a = -0.75, taps clamped at the border), bilinear with antialias (ATen's float32 weights).

/// Source taps and weights of every output coordinate along one axis.
struct ResampleAxis {
    let taps: Int
    /// `taps` source indices per output coordinate.
    var index: [Int]
    var weight: [Float]

    init(mode: ResizeMode, input: Int, output: Int) {
        let scale = Double(input) / Double(output)
        switch mode {
        case .nearest:
            taps = 1
            index = (0..<output).map { ResizeMode.nearestIndex($0, input: input, output: output) }
            weight = Array(repeating: 1, count: output)
        case .bilinear:
            taps = 2
            index = []; weight = []
            for d in 0..<output {
                let src = max(0, (Double(d) + 0.5) * scale - 0.5)
                let i0 = min(Int(src), input - 1)
                let i1 = i0 < input - 1 ? i0 + 1 : i0
                let l1 = src - Double(i0)
                index += [i0, i1]
                weight += [Float(1 - l1), Float(l1)]
            }
        case .bilinearAntialias:
            let t = Self.antialiasTaps(input: input, output: output)
            taps = t.0; index = t.1; weight = t.2
        case .bicubic:
            taps = 4
            index = []; weight = []
            let a = -0.75
            func near(_ x: Double) -> Double { ((a + 2) * x - (a + 3)) * x * x + 1 }
            func far(_ x: Double) -> Double { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            for d in 0..<output {
                let src = (Double(d) + 0.5) * scale - 0.5
                let f = src.rounded(.down)
                let t = src - f
                let i = Int(f)
                let w = [far(t + 1), near(t), near(1 - t), far(2 - t)]
                for k in 0..<4 {
                    index.append(min(max(i - 1 + k, 0), input - 1))
                    weight.append(Float(w[k]))
                }
            }
        }
    }
}

extension ResampleAxis {
    /// ATen's `_compute_weights_aa` for bilinear with antialias, in its float32 arithmetic
    /// (the double steps where C++ promotes to double): every output gets the same number
    /// of taps, the unused ones with weight 0 at a valid index.
    static func antialiasTaps(input: Int, output: Int) -> (Int, [Int], [Float]) {
        let scale = Float(input) / Float(output)
        let support: Float = scale >= 1 ? scale : 1
        let invScale: Float = scale >= 1 ? Float(1.0 / Double(scale)) : 1
        let taps = Int(support.rounded(.up)) * 2 + 1
        var index: [Int] = [], weight: [Float] = []
        index.reserveCapacity(taps * output); weight.reserveCapacity(taps * output)
        var w = [Float](repeating: 0, count: taps)
        for i in 0..<output {
            let center = Float(Double(scale) * (Double(i) + 0.5))
            let first = max(Int(Double(center - support) + 0.5), 0)
            let count = min(max(min(Int(Double(center + support) + 0.5), input) - first, 0), taps)
            var total: Float = 0
            for j in 0..<taps {
                if j < count {
                    let x = abs(Float((Double(Float(j + first) - center) + 0.5) * Double(invScale)))
                    w[j] = x < 1 ? 1 - x : 0
                    total += w[j]
                } else {
                    w[j] = 0
                }
            }
            for j in 0..<taps {
                index.append(min(first + j, input - 1))
                weight.append(total != 0 && j < count ? w[j] / total : 0)
            }
        }
        return (taps, index, weight)
    }
}

/// Separable: each task (plane, band of output rows) resamples the input rows its band needs
/// horizontally into a per-worker buffer, then combines them vertically (contiguous rows,
/// vectorised).
func resize(mode: ResizeMode, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>,
            outShape: [Int], ctx: KernelContext) {
    let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
    let ho = outShape[2], wo = outShape[3]
    if planes * ho * wo == 0 { return }
    let ax = ResampleAxis(mode: mode, input: w, output: wo)
    let ay = ResampleAxis(mode: mode, input: h, output: ho)
    let tx = ax.taps, ty = ay.taps
    let band = max(1, min(ho, 32))
    let bands = (ho + band - 1) / band
    // Input rows a band can touch: taps of its first and last output rows (monotonic).
    var maxRows = 1
    for b in 0..<bands {
        let y0 = b * band, y1 = min(ho, y0 + band) - 1
        let lo = ay.index[(y0 * ty)..<(y0 * ty + ty)].min()!, hi = ay.index[(y1 * ty)..<(y1 * ty + ty)].max()!
        maxRows = max(maxRows, hi - lo + 1)
    }
    let tasks = planes * bands
    let workers = workerCount(tasks, threads: ctx.threads)
    let buffers = ctx.scratch.floats(workers * maxRows * wo)
    ax.index.withUnsafeBufferPointer { xi in
    ax.weight.withUnsafeBufferPointer { xw in
    ay.index.withUnsafeBufferPointer { yi in
    ay.weight.withUnsafeBufferPointer { yw in
        parallelTasks(tasks, threads: ctx.threads) { worker, t in
            let plane = t / bands, y0 = (t % bands) * band, y1 = min(ho, y0 + band)
            let src = x + plane * h * w
            let dst = out + plane * ho * wo
            if tx == 1 && ty == 1 {
                for yo in y0..<y1 {
                    let row = src + yi[yo] * w, d = dst + yo * wo
                    for xo in 0..<wo { d[xo] = row[xi[xo]] }
                }
                return
            }
            var lo = Int.max, hi = 0
            for k in (y0 * ty)..<(y1 * ty) { lo = min(lo, yi[k]); hi = max(hi, yi[k]) }
            let tmp = buffers + worker * maxRows * wo
            for r in lo...hi {
                let row = src + r * w, d = tmp + (r - lo) * wo
                for xo in 0..<wo {
                    var s: Float = 0
                    for b in 0..<tx { s += xw[xo * tx + b] * row[xi[xo * tx + b]] }
                    d[xo] = s
                }
            }
            for yo in y0..<y1 {
                let d = dst + yo * wo
                let r0 = tmp + (yi[yo * ty] - lo) * wo, w0 = yw[yo * ty]
                for xo in 0..<wo { d[xo] = w0 * r0[xo] }
                for a in 1..<ty {
                    let ra = tmp + (yi[yo * ty + a] - lo) * wo, wa = yw[yo * ty + a]
                    for xo in 0..<wo { d[xo] += wa * ra[xo] }
                }
            }
        }
    }}}}
}
