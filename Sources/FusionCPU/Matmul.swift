import FusionCore

/// Strides of `shape` read as if broadcast to `target` (right-aligned, 0 on broadcast axes).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let padded = Array(repeating: 1, count: target.count - shape.count) + shape
    let strides = contiguousStrides(padded)
    return zip(padded, strides).map { $0.0 == 1 ? 0 : $0.1 }
}

/// Batched matmul with broadcast batch dimensions.
func matmul(transposeA ta: Bool, transposeB tb: Bool, alpha: Float,
            a: UnsafePointer<Float>, aShape: [Int], b: UnsafePointer<Float>, bShape: [Int],
            out: UnsafeMutablePointer<Float>, outShape: [Int], ctx: KernelContext) {
    let ra = aShape.count, rb = bShape.count
    let m = ta ? aShape[ra - 1] : aShape[ra - 2]
    let k = ta ? aShape[ra - 2] : aShape[ra - 1]
    let n = tb ? bShape[rb - 2] : bShape[rb - 1]
    let lda = ta ? m : k, ldb = tb ? k : n
    let batchShape = Array(outShape.dropLast(2))
    let batch = batchShape.reduce(1, *)
    if batch * m * n == 0 { return }
    let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
    let aMat = aShape[ra - 2] * aShape[ra - 1], bMat = bShape[rb - 2] * bShape[rb - 1]

    // b shared by every batch and a not transposed: fold the batch into M (one big GEMM).
    if !ta && bBatch.reduce(1, *) == 1 && aBatch.reduce(1, *) == batch {
        sgemm(transB: tb, m: batch * m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: out, ldc: n)
        return
    }
    let sa = broadcastStrides(aBatch, to: batchShape)
    let sb = broadcastStrides(bBatch, to: batchShape)
    let dims = batchShape
    parallelGEMMTasks(batch, threads: ctx.threads) { _, t in
        var rem = t, oa = 0, ob = 0
        for d in stride(from: dims.count - 1, through: 0, by: -1) {
            let i = rem % dims[d]
            rem /= dims[d]
            oa += i * sa[d]
            ob += i * sb[d]
        }
        sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha,
              a: a + oa * aMat, lda: lda, b: b + ob * bMat, ldb: ldb, c: out + t * m * n, ldc: n)
    }
}

/// nn.Linear: `out = x W^T + bias` over the last dimension.
func linear(x: UnsafePointer<Float>, xShape: [Int], weight: UnsafePointer<Float>, wShape: [Int],
            bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = wShape[0], k = wShape[1]
    let m = k == 0 ? xShape.dropLast().reduce(1, *) : xShape.reduce(1, *) / k
    if m * n == 0 { return }
    if let bias {
        parallelFor(m, threads: ctx.threads, grain: max(1, (1 << 15) / max(n, 1))) { i in
            (out + i * n).update(from: bias, count: n)
        }
    }
    sgemm(transB: true, m: m, n: n, k: k, a: x, lda: k, b: weight, ldb: k,
          beta: bias == nil ? 0 : 1, c: out, ldc: n)
}
