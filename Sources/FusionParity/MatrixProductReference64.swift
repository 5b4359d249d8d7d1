/// Float64 matmul and linear: one dot product per output element, in index order.
public enum MatrixProductReference64 {
    /// `alpha * (A @ B)` with A = a or a^T, B = b or b^T on the last two dims, batch dims
    /// broadcast as `torch.matmul`.
    public static func matmul(_ a: Float64Tensor, _ b: Float64Tensor, transposeA: Bool, transposeB: Bool, alpha: Double) -> Float64Tensor {
        let aShape = a.shape, bShape = b.shape
        let ra = aShape.count, rb = bShape.count
        let m = transposeA ? aShape[ra - 1] : aShape[ra - 2]
        let k = transposeA ? aShape[ra - 2] : aShape[ra - 1]
        let kb = transposeB ? bShape[rb - 1] : bShape[rb - 2]
        let n = transposeB ? bShape[rb - 2] : bShape[rb - 1]
        precondition(k == kb)
        let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
        let batch = Float64Indexing.broadcastShape(aBatch, bBatch)
        let av = a.data, bv = b.data
        var out = [Double](repeating: 0, count: Float64Indexing.count(batch) * m * n)
        for bi in 0..<Float64Indexing.count(batch) {
            let idx = Float64Indexing.unravel(bi, batch)
            let ia = Float64Indexing.broadcastIndex(idx, aBatch), ib = Float64Indexing.broadcastIndex(idx, bBatch)
            for i in 0..<m {
                for j in 0..<n {
                    var acc = 0.0
                    for p in 0..<k {
                        let x = transposeA ? av[ia * m * k + p * m + i] : av[ia * m * k + i * k + p]
                        let y = transposeB ? bv[ib * k * n + j * k + p] : bv[ib * k * n + p * n + j]
                        acc += x * y
                    }
                    out[(bi * m + i) * n + j] = alpha * acc
                }
            }
        }
        return Float64Tensor(out, batch + [m, n])
    }

    /// `nn.Linear`: y = x W^T + b; x [..., K], weight [N, K], bias [N].
    public static func linear(_ x: Float64Tensor, weight: Float64Tensor, bias: Float64Tensor?) -> Float64Tensor {
        let nOut = weight.shape[0], k = weight.shape[1]
        precondition(x.shape.last == k)
        let rows = x.count / k
        let xv = x.data, wv = weight.data, bv = bias?.data
        var out = [Double](repeating: 0, count: rows * nOut)
        for r in 0..<rows {
            for j in 0..<nOut {
                var acc = bv?[j] ?? 0
                for p in 0..<k { acc += xv[r * k + p] * wv[j * k + p] }
                out[r * nOut + j] = acc
            }
        }
        return Float64Tensor(out, Array(x.shape.dropLast()) + [nOut])
    }
}
