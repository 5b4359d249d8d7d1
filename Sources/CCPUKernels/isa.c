// Run-time choice of the kernels' vector ISA (see isa.h).
#include "isa.h"

static int detect(void) {
#ifdef FK_X86
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return FK_ISA_GENERIC;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        return FK_ISA_AVX512;
    return FK_ISA_AVX2;
#else
    return FK_ISA_GENERIC;
#endif
}

/// -1: not detected yet.
static int detected = -1;
static int cap = FK_ISA_AVX512;

int fk_isa_level(void) {
    int d = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (d < 0) {
        d = detect();
        __atomic_store_n(&detected, d, __ATOMIC_RELAXED);
    }
    int c = __atomic_load_n(&cap, __ATOMIC_RELAXED);
    return d < c ? d : c;
}

int fk_cpu_kernels_limit_isa(int level) {
    return __atomic_exchange_n(&cap, level, __ATOMIC_RELAXED);
}

const char *fk_cpu_kernels_isa(void) {
    switch (fk_isa_level()) {
    case FK_ISA_AVX512: return "avx512";
    case FK_ISA_AVX2: return "avx2-fma";
    default: return "generic";
    }
}
