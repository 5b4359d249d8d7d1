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

FK_DEFINE_ISA_KERNEL(fk_row_binary, FK_ROW_ARGS, FK_ROW_CALL, row_impl, row_impl)
