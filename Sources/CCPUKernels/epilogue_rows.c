// Elementwise steps of a conv's epilogue on one row: y = y op t (or t op y), t a row or one
// value broadcast. Single IEEE operations, so every vector path gives the Swift loops' bits;
// compiled for the baseline, AVX2+FMA and AVX-512, chosen at run time (isa.h), where the
// Swift code is built for the baseline (4 lanes).
#include "isa.h"

static inline __attribute__((always_inline)) float apply_op(int op, float a, float b) {
    switch (op) {
    case FK_OP_ADD: return a + b;
    case FK_OP_SUB: return a - b;
    case FK_OP_MUL: return a * b;
    default: return a / b;
    }
}

static inline __attribute__((always_inline))
void row_impl_op(int op, int first, float *y, long n, const float *t, long inner) {
    if (inner == 0) {
        const float v = t[0];
        if (first) for (long i = 0; i < n; i++) y[i] = apply_op(op, v, y[i]);
        else for (long i = 0; i < n; i++) y[i] = apply_op(op, y[i], v);
    } else {
        if (first) for (long i = 0; i < n; i++) y[i] = apply_op(op, t[i], y[i]);
        else for (long i = 0; i < n; i++) y[i] = apply_op(op, y[i], t[i]);
    }
}

// One specialisation per op, so each inner loop is a single vector instruction stream.
static inline __attribute__((always_inline))
void row_impl(int op, int first, float *y, long n, const float *t, long inner) {
    switch (op) {
    case FK_OP_ADD: row_impl_op(FK_OP_ADD, first, y, n, t, inner); return;
    case FK_OP_SUB: row_impl_op(FK_OP_SUB, first, y, n, t, inner); return;
    case FK_OP_MUL: row_impl_op(FK_OP_MUL, first, y, n, t, inner); return;
    default: row_impl_op(FK_OP_DIV, first, y, n, t, inner); return;
    }
}

#define FK_ROW_ARGS int op, int first, float *y, long n, const float *t, long inner
#define FK_ROW_CALL op, first, y, n, t, inner

static void row_generic(FK_ROW_ARGS) { row_impl(FK_ROW_CALL); }

#ifdef FK_X86
FK_TARGET_AVX2 static void row_avx2(FK_ROW_ARGS) { row_impl(FK_ROW_CALL); }
FK_TARGET_AVX512 static void row_avx512(FK_ROW_ARGS) { row_impl(FK_ROW_CALL); }
#endif

void fk_row_binary(FK_ROW_ARGS) {
    switch (fk_isa_level()) {
#ifdef FK_X86
    case FK_ISA_AVX512: row_avx512(FK_ROW_CALL); return;
    case FK_ISA_AVX2: row_avx2(FK_ROW_CALL); return;
#endif
    default: row_generic(FK_ROW_CALL); return;
    }
}
