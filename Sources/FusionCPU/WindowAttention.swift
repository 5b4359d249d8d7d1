import FusionCore

/// Window attention on images: q, k [N,C,H,W], v [N,Cv,H,W], bias [heads, T, T] with
/// T = window^2 tokens per window, row-major inside the window. Head h owns channels
/// h*(C/heads)..< of q and k and h*(Cv/heads)..< of v. Per window and head:
/// `softmax(q k^T * scale + bias[h]) v`, written back to the window's pixels.
///
/// One task per (sample, window): the window's q, k, v are gathered channel-major
/// ([channels, T], contiguous row segments of the image), then per head two small GEMMs.
func windowAttention(heads: Int, window w: Int, scale: Float,
                     q: UnsafePointer<Float>, k: UnsafePointer<Float>, qShape: [Int],
                     v: UnsafePointer<Float>, vShape: [Int], bias: UnsafePointer<Float>,
                     out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = qShape[0], c = qShape[1], h = qShape[2], wd = qShape[3]
    let cv = vShape[1]
    let t = w * w
    let dh = c / heads, dvh = cv / heads
    let wy = h / w, wx = wd / w
    let tasks = n * wy * wx
    if tasks == 0 || cv == 0 { return }
    let perWorker = (2 * c + 2 * cv) * t + t * t
    let workers = workerCount(tasks, threads: ctx.threads)
    let buffers = ctx.scratch.floats(workers * perWorker)
    let plane = h * wd

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, task in
        let ni = task / (wy * wx), wi = task % (wy * wx)
        let y0 = (wi / wx) * w, x0 = (wi % wx) * w
        let qc = buffers + worker * perWorker
        let kc = qc + c * t, vc = kc + c * t, oc = vc + cv * t, s = oc + cv * t

        func gather(_ src: UnsafePointer<Float>, _ channels: Int, _ dst: UnsafeMutablePointer<Float>) {
            for ch in 0..<channels {
                let base = src + (ni * channels + ch) * plane + y0 * wd + x0
                for ty in 0..<w { (dst + ch * t + ty * w).update(from: base + ty * wd, count: w) }
            }
        }
        gather(q, c, qc)
        gather(k, c, kc)
        gather(v, cv, vc)

        for hd in 0..<heads {
            // S[i, j] = scale * sum_c q[c, i] k[c, j] + bias[h, i, j]
            sgemm(transA: true, m: t, n: t, k: dh, alpha: scale, a: qc + hd * dh * t, lda: t,
                  b: kc + hd * dh * t, ldb: t, c: s, ldc: t)
            let bh = bias + hd * t * t
            for i in 0..<(t * t) { s[i] += bh[i] }
            for i in 0..<t { softmaxRowInPlace(s + i * t, t) }
            // O[c, i] = sum_j v[c, j] S[i, j]
            sgemm(transB: true, m: dvh, n: t, k: t, a: vc + hd * dvh * t, lda: t, b: s, ldb: t,
                  c: oc + hd * dvh * t, ldc: t)
        }

        for ch in 0..<cv {
            let base = out + (ni * cv + ch) * plane + y0 * wd + x0
            for ty in 0..<w { (base + ty * wd).update(from: oc + ch * t + ty * w, count: w) }
        }
    }
}
