// A pointwise conv (optional bias and ReLU) feeding a spatial conv with few outputs,
// computed row by row without the hidden map in memory: TextFusion's head, where a 24 -> 48
// 1x1 conv with ReLU feeds a 48 -> 1 3x3 conv. Unfused, the 48-channel map (63 MB per
// stream at 512x640) is written once and read back three times; here each hidden row is
// computed when the spatial conv first needs it and kept, padded, in a ring of kh rows
// that stays in cache. Compiled for the baseline, AVX2+FMA and AVX-512, chosen at run
// time (isa.h). fp32 accumulation throughout, in the order of the unfused ops: the
// pointwise sum over inputs, + bias, ReLU; the spatial sum from its bias over hidden
// channels, kernel rows and columns.
#include "isa.h"
#include "rows.h"
#include "small_gemm.h"

// Hidden row `r` into `dst` [m][padded], its interior at column pl (the product as
// `fk_small_gemm`, then + bias and ReLU); the padded columns by the spatial conv's padding
// (zeros, or the reflection of the hidden row). jb hidden channels per pass.
static inline __attribute__((always_inline))
void hidden_row(int jb, const struct fk_pointwise_conv_problem *p, const float *restrict x, const float *restrict w1,
                const float *restrict b1, int r, float *restrict dst) {
    const int c = p->c, w = p->w, m = p->m, padded = p->wo + p->kw - 1;
    fk_small_gemm_impl(jb, m, w, c, w1, c, x + (long)r * w, (long)p->h * w, dst + p->pl, padded);
    for (int j = 0; j < m; j++) {
        float *d = dst + (long)j * padded;
        const float b = b1 ? b1[j] : 0.0f;
        if (b1 || p->relu)
            for (int i = p->pl; i < p->pl + w; i++) {
                float v = b1 ? d[i] + b : d[i];
                d[i] = p->relu && v < 0.0f ? 0.0f : v;
            }
        for (int i = 0; i < p->pl; i++) d[i] = p->reflect ? d[p->pl + fk_reflect_index(i - p->pl, w)] : 0.0f;
        for (int i = p->pl + w; i < padded; i++) d[i] = p->reflect ? d[p->pl + fk_reflect_index(i - p->pl, w)] : 0.0f;
    }
}

// out[o][y][i0 ..< i0 + 16 nb] from the kh hidden rows (NULL: a zero-padded row).
static inline __attribute__((always_inline))
void spatial_block(int nb, const struct fk_pointwise_conv_problem *p, const float *const *rows, const float *restrict w2,
                   float b, int o, int i0, float *restrict out) {
    const int m = p->m, kh = p->kh, kw = p->kw, padded = p->wo + p->kw - 1;
    fk_v16 acc[4];
    for (int u = 0; u < nb; u++) acc[u] = (fk_v16){0} + b;
    for (int j = 0; j < m; j++)
        for (int ky = 0; ky < kh; ky++) {
            if (!rows[ky]) continue;
            fk_row_taps(nb, kw, rows[ky] + (long)j * padded + i0, w2 + (((long)o * m + j) * kh + ky) * kw, acc);
        }
    for (int u = 0; u < nb; u++) memcpy(out + i0 + u * 16, &acc[u], sizeof acc[u]);
}

static inline __attribute__((always_inline))
void pointwise_then_conv_impl(int jb, const struct fk_pointwise_conv_problem *p, const float *restrict x,
                              const float *restrict w1, const float *restrict b1, const float *restrict w2,
                              const float *restrict b2, float *restrict out, int y0, int y1, float *restrict scratch) {
    const int kh = p->kh, kw = p->kw, m = p->m, wo = p->wo, padded = wo + kw - 1;
    const long slot_floats = (long)m * padded;
    int key[FK_POINTWISE_CONV_MAX_K];   // the hidden row each slot holds (-1: none)
    for (int s = 0; s < kh; s++) key[s] = -1;
    for (int y = y0; y < y1; y++) {
        // The hidden rows this output row needs; each kept in a slot no other needs now.
        int need[FK_POINTWISE_CONV_MAX_K];
        for (int ky = 0; ky < kh; ky++) {
            int iy = y - p->pt + ky;
            if (iy < 0 || iy >= p->h) iy = p->reflect ? fk_reflect_index(iy, p->h) : -1;
            need[ky] = iy;
        }
        const float *rows[FK_POINTWISE_CONV_MAX_K];
        for (int ky = 0; ky < kh; ky++) {
            rows[ky] = NULL;
            if (need[ky] < 0) continue;
            int slot = -1;
            for (int s = 0; s < kh; s++)
                if (key[s] == need[ky]) slot = s;
            if (slot < 0) {
                for (int s = 0; s < kh && slot < 0; s++) {
                    int needed = 0;
                    for (int k = 0; k < kh; k++) needed |= key[s] >= 0 && key[s] == need[k];
                    if (!needed) slot = s;
                }
                hidden_row(jb, p, x, w1, b1, need[ky], scratch + slot * slot_floats);
                key[slot] = need[ky];
            }
            rows[ky] = scratch + slot * slot_floats;
        }
        for (int o = 0; o < p->o; o++) {
            const float b = b2 ? b2[o] : 0.0f;
            float *orow = out + ((long)o * p->ho + y) * wo;
            int i = 0;
            for (; i + 64 <= wo; i += 64) spatial_block(4, p, rows, w2, b, o, i, orow);
            for (; i + 16 <= wo; i += 16) spatial_block(1, p, rows, w2, b, o, i, orow);
            for (; i < wo; i++) {
                float s = b;
                for (int j = 0; j < m; j++)
                    for (int ky = 0; ky < kh; ky++) {
                        if (!rows[ky]) continue;
                        const float *src = rows[ky] + (long)j * padded + i;
                        const float *wr = w2 + (((long)o * m + j) * kh + ky) * kw;
                        for (int kx = 0; kx < kw; kx++) s += wr[kx] * src[kx];
                    }
                orow[i] = s;
            }
        }
    }
}

#define FK_PC_ARGS const struct fk_pointwise_conv_problem *p, const float *x, const float *w1, const float *b1, \
    const float *w2, const float *b2, float *out, int y0, int y1, float *scratch
#define FK_PC_CALL p, x, w1, b1, w2, b2, out, y0, y1, scratch

#define FK_POINTWISE_THEN_CONV_ROWS_NARROW(...) pointwise_then_conv_impl(4, __VA_ARGS__)
#define FK_POINTWISE_THEN_CONV_ROWS_WIDE(...) pointwise_then_conv_impl(8, __VA_ARGS__)
FK_DEFINE_ISA_KERNEL(fk_pointwise_then_conv_rows, FK_PC_ARGS, FK_PC_CALL, FK_POINTWISE_THEN_CONV_ROWS_NARROW, FK_POINTWISE_THEN_CONV_ROWS_WIDE)
