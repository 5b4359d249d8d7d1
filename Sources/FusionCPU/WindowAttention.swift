import CCPUKernels
import FusionCore

/// Window attention on images: q, k [N,C,H,W], v [N,Cv,H,W], bias [heads, T, T] with
/// T = window^2 tokens per window, row-major inside the window. Head h owns channels
/// h*(C/heads)..< of q and k and h*(Cv/heads)..< of v. Per window and head:
/// `softmax(q k^T * scale + bias[h]) v`, written back to the window's pixels.
///
/// One task per (sample, window): the window's q, k, v are gathered channel-major
/// ([channels, T], contiguous row segments of the image). Where T is a multiple of 16
/// (TextFusion's 8x8 windows: 64), `fk_window_attention` (CCPUKernels, AVX-512 or AVX2+FMA where the
/// CPU has it) does the whole window, each head 16 queries at a time in registers;
/// otherwise two small GEMMs per head.
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
    let perWorker = (2 * c + 2 * cv) * t + t * Swift.max(t, 16)
    let workers = workerCount(tasks, threads: ctx.threads)
    let vectorised = t % 16 == 0
    let buffers = ctx.scratch.floats(workers * perWorker + (vectorised ? heads * t * t : 0))
    let plane = h * wd
    // The bias transposed per head ([h][key][query]), for the vectorised path's key loop.
    let biasT = buffers + workers * perWorker
    if vectorised {
        for hd in 0..<heads {
            let src = bias + hd * t * t, dst = biasT + hd * t * t
            for i in 0..<t { for j in 0..<t { dst[j * t + i] = src[i * t + j] } }
        }
    }

    if vectorised {
        parallelTasks(tasks, threads: ctx.threads, grain: 8) { worker, task in
            let ni = task / (wy * wx), wi = task % (wy * wx)
            let origin = ((wi / wx) * wd + wi % wx) * w
            fk_window_attention(Int32(w), Int32(heads), Int32(c), Int32(cv), Int32(wd), Int32(plane), scale,
                                q + ni * c * plane + origin, k + ni * c * plane + origin, v + ni * cv * plane + origin,
                                biasT, out + ni * cv * plane + origin, buffers + worker * perWorker)
        }
        return
    }

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, task in
        let ni = task / (wy * wx), wi = task % (wy * wx)
        let y0 = (wi / wx) * w, x0 = (wi % wx) * w
        let qc = buffers + worker * perWorker
        let kc = qc + c * t, vc = kc + c * t, oc = vc + cv * t, s = oc + cv * t

        func gather(_ src: UnsafePointer<Float>, _ channels: Int, _ dst: UnsafeMutablePointer<Float>) {
            for ch in 0..<channels {
                let base = src + (ni * channels + ch) * plane + y0 * wd + x0
                for ty in 0..<w { copyShort(dst + ch * t + ty * w, base + ty * wd, w) }
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
            for ty in 0..<w { copyShort(base + ty * wd, oc + ch * t + ty * w, w) }
        }
    }
}

/// A window row segment (a few floats): a loop, not a `memmove` call per segment.
@inline(__always)
private func copyShort(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    if n == 8 {
        UnsafeMutableRawPointer(dst).storeBytes(of: UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
    } else {
        for i in 0..<n { dst[i] = src[i] }
    }
}
