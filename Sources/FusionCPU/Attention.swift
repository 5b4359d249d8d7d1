import FusionCore

/// Scaled dot-product attention over tokens: q [B,H,Nq,d], k [B,H,Nk,d], v [B,H,Nk,dv],
/// optional additive bias broadcast to [B,H,Nq,Nk].
///
/// Work is split into (batch, head, block of query rows) tasks. Each computes the scores of
/// its rows against the visible keys into a per-worker buffer of `rows x Nk` floats (never
/// Nq x Nk), applies the bias and causal mask, a stable softmax per row, and one GEMM with v.
/// With `causal`, key j is visible to query i iff j <= i + (Nk - Nq); a query that sees no key
/// outputs zeros.
func attention(scale: Float, causal: Bool,
               q: UnsafePointer<Float>, qShape: [Int], k: UnsafePointer<Float>, kShape: [Int],
               v: UnsafePointer<Float>, vShape: [Int], bias: (UnsafePointer<Float>, [Int])?,
               out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let b = qShape[0], heads = qShape[1], nq = qShape[2], d = qShape[3]
    let nk = kShape[2], dv = vShape[3]
    let bh = b * heads
    if bh * nq * dv == 0 { return }
    if nk == 0 {
        out.update(repeating: 0, count: bh * nq * dv)
        return
    }
    // Query rows per task: up to 256 so each GEMM amortises packing k and v, with the score
    // block at most 4 MiB; and enough tasks to balance the threads (causal rows differ in cost).
    // Chosen from one sample's heads, never from the batch B, so that a sample's GEMMs (and
    // so its rounding) are the same in a batch as alone.
    var rowsPerTask = max(1, min(256, nq, (1 << 20) / nk))
    let wanted = 4 * max(1, ctx.threads)
    if heads * ((nq + rowsPerTask - 1) / rowsPerTask) < wanted {
        let perHead = (wanted + heads - 1) / heads
        rowsPerTask = max(1, min(rowsPerTask, (nq + perHead - 1) / perHead))
    }
    let blocks = (nq + rowsPerTask - 1) / rowsPerTask
    let tasks = bh * blocks
    let workers = workerCount(tasks, threads: ctx.threads)
    let scores = ctx.scratch.floats(workers * rowsPerTask * nk)
    let biasStrides = bias.map { broadcastStrides($0.1, to: [b, heads, nq, nk]) } ?? [0, 0, 0, 0]
    let shift = nk - nq

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, t in
        let head = t / blocks
        let i0 = (t % blocks) * rowsPerTask
        let rows = min(rowsPerTask, nq - i0)
        let bi = head / heads, hi = head % heads
        let qp = q + (head * nq + i0) * d
        let kp = k + head * nk * d
        let vp = v + head * nk * dv
        let op = out + (head * nq + i0) * dv
        // Keys any row of this block can see.
        let kl = causal ? min(nk, max(0, i0 + rows + shift)) : nk
        if kl == 0 {
            op.update(repeating: 0, count: rows * dv)
            return
        }
        let s = scores + worker * rowsPerTask * nk
        sgemm(transB: true, m: rows, n: kl, k: d, alpha: scale, a: qp, lda: d, b: kp, ldb: d, c: s, ldc: kl)
        for r in 0..<rows {
            let i = i0 + r
            let row = s + r * kl
            if let (bp, _) = bias {
                let br = bp + bi * biasStrides[0] + hi * biasStrides[1] + i * biasStrides[2]
                if biasStrides[3] == 0 {
                    let c = br[0]
                    for j in 0..<kl { row[j] += c }
                } else {
                    for j in 0..<kl { row[j] += br[j] }
                }
            }
            if causal {
                let firstHidden = max(0, i + shift + 1)
                if firstHidden < kl { (row + firstHidden).update(repeating: -.infinity, count: kl - firstHidden) }
            }
            softmaxRowInPlace(row, kl)
        }
        sgemm(m: rows, n: dv, k: kl, a: s, lda: kl, b: vp, ldb: dv, c: op, ldc: dv)
    }
}
