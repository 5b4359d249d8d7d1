import FusionCore

/// Restormer's transposed (channel) attention. q, k, v [N,C,H,W], temperature [heads].
/// Per sample and head (Ch = C/heads channels): q and k rows are L2-normalised over H*W
/// (x / max(||x||, 1e-12)), `attn = softmax(q k^T * temperature[h])` is Ch x Ch, and the
/// output rows are `attn v`.
///
/// The Gram matrix q k^T is one GEMM over H*W; normalisation is applied to it afterwards
/// (dividing by both row norms, computed in Double), which equals normalising first.
func channelAttention(heads: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                      shape: [Int], temperature: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                      ctx: KernelContext) {
    let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
    let ch = c / heads
    let tasks = n * heads
    if tasks * ch * hw == 0 { return }
    let perWorker = ch * ch + 2 * ch
    let workers = workerCount(tasks, threads: ctx.threads)
    let buffers = ctx.scratch.floats(workers * perWorker)

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, task in
        let ni = task / heads, hd = task % heads
        let off = (ni * c + hd * ch) * hw
        let qh = q + off, kh = k + off, vh = v + off
        let attn = buffers + worker * perWorker
        let qn = attn + ch * ch, kn = qn + ch
        for i in 0..<ch {
            qn[i] = Float(1 / max(sumSquares(qh + i * hw, hw).squareRoot(), 1e-12))
            kn[i] = Float(1 / max(sumSquares(kh + i * hw, hw).squareRoot(), 1e-12))
        }
        sgemm(transB: true, m: ch, n: ch, k: hw, a: qh, lda: hw, b: kh, ldb: hw, c: attn, ldc: ch)
        let temp = temperature[hd]
        for i in 0..<ch {
            let row = attn + i * ch
            let sq = qn[i] * temp
            for j in 0..<ch { row[j] = row[j] * sq * kn[j] }
            softmaxRowInPlace(row, ch)
        }
        sgemm(m: ch, n: hw, k: ch, a: attn, lda: ch, b: vh, ldb: hw, c: out + off, ldc: hw)
    }
}
