// C = A · B for pointwise convs with few channels (see small_gemm.h). Compiled for the
// baseline, AVX2+FMA and AVX-512, chosen at run time (isa.h).
#include "isa.h"
#include "small_gemm.h"

#define FK_GEMM_ARGS int m, int n, int k, const float *a, int lda, const float *b, long ldb, float *c, long ldc
#define FK_GEMM_CALL m, n, k, a, lda, b, ldb, c, ldc

#define FK_SMALL_GEMM_NARROW(...) fk_small_gemm_impl(4, __VA_ARGS__)
#define FK_SMALL_GEMM_WIDE(...) fk_small_gemm_impl(8, __VA_ARGS__)
FK_DEFINE_ISA_KERNEL(fk_small_gemm, FK_GEMM_ARGS, FK_GEMM_CALL, FK_SMALL_GEMM_NARROW, FK_SMALL_GEMM_WIDE)
