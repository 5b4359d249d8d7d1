// Padded input rows, shared by the row kernels: a row of the input with its padding
// columns (zeros or PyTorch's reflection) made once, so the inner loops read straight runs.
#ifndef FK_ROWS_H
#define FK_ROWS_H

#include <string.h>

/// PyTorch's reflection of index i into 0 ..< n (any distance; n == 1 gives 0).
static inline __attribute__((always_inline)) int fk_reflect_index(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
    }
    return i;
}

/// `row` [padded] = the input row `src` [w] placed at column pl, the columns either side
/// zeros or reflected.
static inline __attribute__((always_inline))
void fk_pad_row(float *restrict row, const float *restrict src, int w, int pl, int padded, int reflect) {
    const int lo = pl < padded ? pl : padded;
    int hi = pl + w;
    if (hi > padded) hi = padded;
    for (int i = 0; i < lo; i++) row[i] = reflect ? src[fk_reflect_index(i - pl, w)] : 0.0f;
    if (hi > lo) memcpy(row + lo, src + (lo - pl), sizeof(float) * (size_t)(hi - lo));
    for (int i = hi > lo ? hi : lo; i < padded; i++) row[i] = reflect ? src[fk_reflect_index(i - pl, w)] : 0.0f;
}

/// 16 floats as one value (one zmm, two ymm or four xmm registers, by the target).
typedef float fk_v16 __attribute__((vector_size(64)));

/// acc[u] += sum over kx of wr[kx] * src[kx + 16 u ..< kx + 16 u + 16] (u < nb), taps in
/// order: one kernel row of a spatial conv over nb blocks of 16 output columns.
static inline __attribute__((always_inline))
void fk_row_taps(int nb, int kw, const float *restrict src, const float *restrict wr, fk_v16 *acc) {
    for (int kx = 0; kx < kw; kx++) {
        const float wv = wr[kx];
        for (int u = 0; u < nb; u++) {
            fk_v16 v;   // an unaligned load
            memcpy(&v, src + kx + u * 16, sizeof v);
            acc[u] += wv * v;
        }
    }
}

#endif
