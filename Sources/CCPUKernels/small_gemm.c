// C = A · B for pointwise convs with few channels (see small_gemm.h). Compiled for the
// baseline, AVX2+FMA and AVX-512, chosen at run time (isa.h).
#include "isa.h"
#include "small_gemm.h"

#define FK_GEMM_ARGS int m, int n, int k, const float *a, int lda, const float *b, long ldb, float *c, long ldc
#define FK_GEMM_CALL m, n, k, a, lda, b, ldb, c, ldc

static void gemm_generic(FK_GEMM_ARGS) { fk_small_gemm_impl(4, FK_GEMM_CALL); }

#ifdef FK_X86
FK_TARGET_AVX2 static void gemm_avx2(FK_GEMM_ARGS) { fk_small_gemm_impl(4, FK_GEMM_CALL); }
FK_TARGET_AVX512 static void gemm_avx512(FK_GEMM_ARGS) { fk_small_gemm_impl(8, FK_GEMM_CALL); }
#endif

void fk_small_gemm(FK_GEMM_ARGS) {
    switch (fk_isa_level()) {
#ifdef FK_X86
    case FK_ISA_AVX512: gemm_avx512(FK_GEMM_CALL); return;
    case FK_ISA_AVX2: gemm_avx2(FK_GEMM_CALL); return;
#endif
    default: gemm_generic(FK_GEMM_CALL); return;
    }
}
