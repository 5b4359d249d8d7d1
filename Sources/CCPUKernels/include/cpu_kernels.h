#ifndef FUSION_CPU_KERNELS_H
#define FUSION_CPU_KERNELS_H

/// Window attention over one window of T = window^2 tokens (T a multiple of 16), heads
/// owning contiguous channel blocks: q, k point at channel 0 of [c] planes, v and out at
/// channel 0 of [cv] planes, all at the window's top-left pixel (rows `width` apart, planes
/// `plane` apart); bias_t [heads][key][query] (the bias transposed).
/// out[ch, i] = sum_j v[ch, j] softmax_j(scale * q[:, i] . k[:, j] + bias[h, i, j]) per head.
/// `scratch` holds (2 c + 2 cv) T + 16 T floats. AVX-512 or AVX2+FMA where the CPU has it.
void fk_window_attention(int window, int heads, int c, int cv, int width, int plane, float scale,
                         const float *q, const float *k, const float *v,
                         const float *bias_t, float *out, float *scratch);

/// One sample of a stride-1, undilated, one-group convolution: x [c][h][w],
/// w [o][c][kh][kw], out [o][ho][wo]; padding top pt and left pl (the rest implied by the
/// output size), zeros or PyTorch's reflection.
struct fk_conv_problem {
    int c, h, w, o, kh, kw, ho, wo, pt, pl, reflect;
};

/// Output rows y0 ..< y1 of `fk_conv_problem`, each accumulated directly along the row (for
/// few channels on one side, where a GEMM is one row or column wide). `bias` may be NULL.
/// `scratch` holds (wo + kw - 1) + o * wo floats. AVX-512 or AVX2+FMA where the CPU has it.
void fk_conv2d_direct_rows(const struct fk_conv_problem *p, const float *x, const float *w, const float *bias,
                           float *out, int y0, int y1, float *scratch);

/// Output rows y0 ..< y1 of one plane of a depthwise (stride-1, undilated) convolution:
/// x [h][w] -> out [ho][wo] through the kernel w [kh][kw] + bias, described by
/// `fk_conv_problem` (its c and o unused). `scratch` holds (y1 - y0 + kh - 1) * (wo + kw - 1)
/// floats. AVX-512 or AVX2+FMA where the CPU has it.
void fk_depthwise_rows(const struct fk_conv_problem *p, const float *x, const float *w, float bias, float *out,
                       int y0, int y1, float *scratch);

/// A pointwise conv feeding a spatial conv, one sample: x [c][h][w] through
/// w1 [m][c] (+ b1, then ReLU if `relu`) to the hidden map [m][h][w], then through
/// w2 [o][m][kh][kw] (stride 1, undilated, one group, + b2) with padding top pt and left pl
/// (the rest implied by the output size), zeros or PyTorch's reflection, to out [o][ho][wo].
/// kh, kw at most FK_POINTWISE_CONV_MAX_K; c at most FK_SMALL_GEMM_MAX_K.
struct fk_pointwise_conv_problem {
    int c, h, w, m, relu, o, kh, kw, ho, wo, pt, pl, reflect;
};
#define FK_POINTWISE_CONV_MAX_K 7

/// Output rows y0 ..< y1 of `fk_pointwise_conv_problem` without the hidden map in memory:
/// each hidden row is made once per call when first needed and kept in a ring of kh rows.
/// b1, b2 may be NULL. `scratch` holds kh * m * (wo + kw - 1) floats.
/// AVX-512 or AVX2+FMA where the CPU has it.
void fk_pointwise_then_conv_rows(const struct fk_pointwise_conv_problem *p, const float *x, const float *w1, const float *b1,
                                 const float *w2, const float *b2, float *out, int y0, int y1, float *scratch);

/// c [m][n] (rows ldc apart) = a [m][k] (rows lda apart) · b [k][n] (rows ldb apart), fp32,
/// each sum over k in order, k at most FK_SMALL_GEMM_MAX_K: the product of a pointwise
/// conv with few channels, where OpenBLAS's packing of its operands costs more than the
/// product. AVX-512 or AVX2+FMA where the CPU has it.
void fk_small_gemm(int m, int n, int k, const float *a, int lda, const float *b, long ldb, float *c, long ldc);
#define FK_SMALL_GEMM_MAX_K 64

/// Elementwise binary ops of an epilogue step.
enum { FK_OP_ADD = 0, FK_OP_SUB = 1, FK_OP_MUL = 2, FK_OP_DIV = 3 };

/// y[i] = y[i] op t[i * inner] for i < n (t[..] op y[i] if `first`; inner 0: one value
/// broadcast, else 1), single IEEE operations (the bits of a scalar loop).
/// AVX-512 or AVX2 where the CPU has it.
void fk_row_binary(int op, int first, float *y, long n, const float *t, long inner);

/// The kernels' vector ISA levels.
enum { FK_ISA_GENERIC = 0, FK_ISA_AVX2 = 1, FK_ISA_AVX512 = 2 };

/// Which code path the CPU kernels take on this machine ("avx512", "avx2-fma" or "generic").
const char *fk_cpu_kernels_isa(void);

/// Caps the ISA level the kernels take (for tests comparing the paths on one machine);
/// returns the previous cap. The level taken is the lower of the cap and the CPU's.
int fk_cpu_kernels_limit_isa(int level);

#endif
