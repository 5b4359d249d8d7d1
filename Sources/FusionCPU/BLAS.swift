import CBLAS

/// Row-major single-precision GEMM: `C = alpha * op(A) * op(B) + beta * C`, where op(A) is
/// m x k and op(B) is k x n. Handles the degenerate sizes BLAS rejects (an empty product
/// scales C by beta; empty outputs do nothing).
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 || alpha == 0 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { row[j] *= beta }
            }
        }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(max(1, lda)), b, Int32(max(1, ldb)), beta, c, Int32(max(1, ldc)))
}
