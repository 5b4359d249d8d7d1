#ifndef FUSION_CPU_KERNELS_H
#define FUSION_CPU_KERNELS_H

/// Window attention over one window of T = window^2 tokens (T a multiple of 16), heads
/// owning contiguous channel blocks: q, k point at channel 0 of [c] planes, v and out at
/// channel 0 of [cv] planes, all at the window's top-left pixel (rows `width` apart, planes
/// `plane` apart); bias_t [heads][key][query] (the bias transposed).
/// out[ch, i] = sum_j v[ch, j] softmax_j(scale * q[:, i] . k[:, j] + bias[h, i, j]) per head.
/// `scratch` holds (2 c + 2 cv) T + 16 T floats. AVX2+FMA where the CPU has it.
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
/// `scratch` holds (wo + kw - 1) + o * wo floats. AVX2+FMA where the CPU has it.
void fk_conv2d_direct_rows(const struct fk_conv_problem *p, const float *x, const float *w, const float *bias,
                           float *out, int y0, int y1, float *scratch);

/// Which code path the CPU kernels take on this machine ("avx2-fma" or "generic").
const char *fk_cpu_kernels_isa(void);

#endif
