import CCPUKernels

/// The product of one band of a pointwise conv, C = A · B (A the weights [m][k], B and C
/// image rows `ldb` and `ldc` apart). With few channels (TextFusion's 24 and 48) it is
/// `fk_small_gemm` (C, AVX-512 or AVX2+FMA; panels of B packed so its rows, planes a
/// multiple of 4 KiB apart, do not share cache sets), about 1.5x OpenBLAS there, whose
/// packing costs more than the product; OpenBLAS otherwise. A conv takes the same path alone
/// and in a `PointwiseChains` run, so both give the same bits.
enum PointwiseProduct {
    /// The most output channels taken by the C kernel (its input channels: FK_SMALL_GEMM_MAX_K).
    static let maxOutputChannels = 64

    static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        if k >= 1, k <= Int(FK_SMALL_GEMM_MAX_K), m <= maxOutputChannels, n <= Int(Int32.max) {
            fk_small_gemm(Int32(m), Int32(n), Int32(k), a, Int32(lda), b, ldb, c, ldc)
        } else {
            sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        }
    }
}
