// The product of a pointwise conv with few channels, C = A · B: 16 columns of B at a time
// (one zmm, two ymm or four xmm registers) stay in registers while jb rows of A are
// broadcast over them, so each column block of B is read once from L1 for every output
// channel. Shared by small_gemm.c and the pointwise-then-spatial rows.
#ifndef FK_SMALL_GEMM_H
#define FK_SMALL_GEMM_H

#include "cpu_kernels.h"
#include "rows.h"

// c[j ..< j+jb][i ..< i+16] = a[j ..< j+jb][0 ..< k] · b[0 ..< k][i ..< i+16], each sum over k in order.
static inline __attribute__((always_inline))
void fk_small_gemm_block(int jb, int k, const float *restrict a, int lda, const float *restrict b, long ldb,
                         float *restrict c, long ldc) {
    fk_v16 acc[8];
    for (int u = 0; u < jb; u++) acc[u] = (fk_v16){0};
    for (int kk = 0; kk < k; kk++) {
        fk_v16 v;   // an unaligned load
        memcpy(&v, b + kk * ldb, sizeof v);
        for (int u = 0; u < jb; u++) acc[u] += a[u * lda + kk] * v;
    }
    for (int u = 0; u < jb; u++) memcpy(c + u * ldc, &acc[u], sizeof acc[u]);
}

/// The columns of b packed at a time: k rows of them contiguous, so the k rows a block reads
/// do not all fall into one cache set (b's rows are planes of an image, often a multiple of
/// 4 KiB apart).
#define FK_GEMM_PANEL 128

/// c [m][n] (rows ldc apart) = a [m][k] (rows lda apart) · b [k][n] (rows ldb apart), in
/// blocks of jb (at most 8) rows of c; k at most FK_SMALL_GEMM_MAX_K.
static inline __attribute__((always_inline))
void fk_small_gemm_impl(int jb, int m, int n, int k, const float *restrict a, int lda, const float *restrict b, long ldb,
                        float *restrict c, long ldc) {
    float panel[FK_SMALL_GEMM_MAX_K * FK_GEMM_PANEL] __attribute__((aligned(64)));
    const int full = n / 16 * 16;
    for (int i0 = 0; i0 < full; i0 += FK_GEMM_PANEL) {
        const int width = full - i0 < FK_GEMM_PANEL ? full - i0 : FK_GEMM_PANEL;
        for (int kk = 0; kk < k; kk++) memcpy(panel + kk * FK_GEMM_PANEL, b + kk * ldb + i0, sizeof(float) * (size_t)width);
        for (int i = 0; i < width; i += 16) {
            float *ci = c + i0 + i;
            int j = 0;
            for (; j + jb <= m; j += jb) fk_small_gemm_block(jb, k, a + (long)j * lda, lda, panel + i, FK_GEMM_PANEL, ci + j * ldc, ldc);
            if (jb > 4)
                for (; j + 4 <= m; j += 4) fk_small_gemm_block(4, k, a + (long)j * lda, lda, panel + i, FK_GEMM_PANEL, ci + j * ldc, ldc);
            for (; j < m; j++) fk_small_gemm_block(1, k, a + (long)j * lda, lda, panel + i, FK_GEMM_PANEL, ci + j * ldc, ldc);
        }
    }
    for (int i = full; i < n; i++)
        for (int j = 0; j < m; j++) {
            float s = 0.0f;
            for (int kk = 0; kk < k; kk++) s += a[(long)j * lda + kk] * b[kk * ldb + i];
            c[j * ldc + i] = s;
        }
}

#endif
