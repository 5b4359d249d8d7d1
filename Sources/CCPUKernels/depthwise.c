// Depthwise convolution rows (one input channel per output: TextFusion's 5x5 local
// branch on 24 channels), stride 1, undilated. The band's input rows are padded once into
// scratch; each output row is then accumulated 64 columns at a time in registers over the
// kh x kw taps. Compiled for the baseline, AVX2+FMA and AVX-512, chosen at run time
// (isa.h).
#include "isa.h"
#include "rows.h"

// out[i0 ..< i0 + 16 nb] of one output row from its kh padded input rows.
static inline __attribute__((always_inline))
void depthwise_block(int nb, int kh, int kw, const float *restrict w, float bias, const float *restrict rows,
                     int padded, int i0, float *restrict out) {
    fk_v16 acc[4];
    for (int u = 0; u < nb; u++) acc[u] = (fk_v16){0} + bias;
    for (int ky = 0; ky < kh; ky++) fk_row_taps(nb, kw, rows + (long)ky * padded + i0, w + ky * kw, acc);
    for (int u = 0; u < nb; u++) memcpy(out + i0 + u * 16, &acc[u], sizeof acc[u]);
}

static inline __attribute__((always_inline))
void depthwise_impl(const struct fk_conv_problem *p, const float *restrict x, const float *restrict w, float bias,
                    float *restrict out, int y0, int y1, float *restrict scratch) {
    const int kh = p->kh, kw = p->kw, wo = p->wo, padded = wo + kw - 1;
    // Input rows y0 - pt ..< y1 - pt + kh - 1, padded (a zero row outside with zero padding).
    for (int r = 0; r < y1 - y0 + kh - 1; r++) {
        int iy = y0 - p->pt + r;
        float *row = scratch + (long)r * padded;
        if (iy < 0 || iy >= p->h) {
            if (!p->reflect) {
                memset(row, 0, sizeof(float) * (size_t)padded);
                continue;
            }
            iy = fk_reflect_index(iy, p->h);
        }
        fk_pad_row(row, x + (long)iy * p->w, p->w, p->pl, padded, p->reflect);
    }
    for (int y = y0; y < y1; y++) {
        const float *rows = scratch + (long)(y - y0) * padded;
        float *orow = out + (long)y * wo;
        int i = 0;
        for (; i + 64 <= wo; i += 64) depthwise_block(4, kh, kw, w, bias, rows, padded, i, orow);
        for (; i + 16 <= wo; i += 16) depthwise_block(1, kh, kw, w, bias, rows, padded, i, orow);
        for (; i < wo; i++) {
            float s = bias;
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++) s += w[ky * kw + kx] * rows[(long)ky * padded + i + kx];
            orow[i] = s;
        }
    }
}

#define FK_DW_ARGS const struct fk_conv_problem *p, const float *x, const float *w, float bias, float *out, \
    int y0, int y1, float *scratch
#define FK_DW_CALL p, x, w, bias, out, y0, y1, scratch

FK_DEFINE_ISA_KERNEL(fk_depthwise_rows, FK_DW_ARGS, FK_DW_CALL, depthwise_impl, depthwise_impl)
