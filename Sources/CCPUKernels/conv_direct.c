// Direct convolution for few channels on one side (TextFusion's 48 -> 1 head and 1 -> 24
// patch embedding): GEMM formulations degenerate there (a one-row or one-column product),
// so each output row is accumulated directly, vectorised along the row, with its input
// rows padded once into a scratch row (zero or reflect padding). Compiled for the baseline,
// AVX2+FMA and AVX-512, chosen at run time (isa.h).
#include "isa.h"
#include "rows.h"

static inline __attribute__((always_inline))
void conv_rows_impl(const struct fk_conv_problem *p, const float *restrict x, const float *restrict w,
                    const float *restrict bias, float *restrict out, int y0, int y1, float *restrict scratch) {
    const int wo = p->wo, padded = wo + p->kw - 1;
    float *row = scratch;                  // one padded input row
    float *acc = scratch + padded;         // o rows of wo accumulators
    for (int y = y0; y < y1; y++) {
        for (int o = 0; o < p->o; o++) {
            const float b = bias ? bias[o] : 0.0f;
            float *a = acc + o * wo;
            for (int i = 0; i < wo; i++) a[i] = b;
        }
        for (int c = 0; c < p->c; c++) {
            for (int ky = 0; ky < p->kh; ky++) {
                int iy = y - p->pt + ky;
                if (iy < 0 || iy >= p->h) {
                    if (!p->reflect) continue;
                    iy = fk_reflect_index(iy, p->h);
                }
                const float *src = x + ((long)c * p->h + iy) * p->w;
                fk_pad_row(row, src, p->w, p->pl, padded, p->reflect);
                for (int o = 0; o < p->o; o++) {
                    const float *wr = w + (((long)o * p->c + c) * p->kh + ky) * p->kw;
                    float *a = acc + o * wo;
                    int kx = 0;
                    for (; kx + 3 <= p->kw; kx += 3) {
                        const float w0 = wr[kx], w1 = wr[kx + 1], w2 = wr[kx + 2];
                        const float *r0 = row + kx, *r1 = r0 + 1, *r2 = r0 + 2;
                        for (int i = 0; i < wo; i++) a[i] += w0 * r0[i] + w1 * r1[i] + w2 * r2[i];
                    }
                    for (; kx < p->kw; kx++) {
                        const float wk = wr[kx];
                        const float *r = row + kx;
                        for (int i = 0; i < wo; i++) a[i] += wk * r[i];
                    }
                }
            }
        }
        for (int o = 0; o < p->o; o++) memcpy(out + ((long)o * p->ho + y) * wo, acc + o * wo, sizeof(float) * wo);
    }
}

#define FK_CONV_ARGS const struct fk_conv_problem *p, const float *x, const float *w, const float *bias, \
    float *out, int y0, int y1, float *scratch
#define FK_CONV_CALL p, x, w, bias, out, y0, y1, scratch

FK_DEFINE_ISA_KERNEL(fk_conv2d_direct_rows, FK_CONV_ARGS, FK_CONV_CALL, conv_rows_impl, conv_rows_impl)
