// Peak fp32 FMA throughput of one CPU thread, at the widest vector width the CPU has.
// Compiled per ISA with target attributes and chosen at run time, so the binary still
// runs on any x86-64 (and on other architectures, where the scalar loop is used).
#include "cpu_probe.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FUSION_X86 1
#endif

#ifdef FUSION_X86
__attribute__((target("avx512f")))
static double fma_avx512(long loops) {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    const __m512 m = _mm512_set1_ps(0.9999f), k = _mm512_set1_ps(1e-4f);
    for (long n = 0; n < loops; n++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, k);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
    }
    __m512 sum = acc[0];
    for (int i = 1; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
    return (double)_mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma")))
static double fma_avx2(long loops) {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(0.001f * (float)i);
    const __m256 m = _mm256_set1_ps(0.9999f), k = _mm256_set1_ps(1e-4f);
    for (long n = 0; n < loops; n++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, k);
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
    }
    __m256 sum = acc[0];
    for (int i = 1; i < 12; i++) sum = _mm256_add_ps(sum, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, sum);
    double total = 0;
    for (int i = 0; i < 8; i++) total += out[i];
    return total;
}
#endif

static double fma_scalar(long loops) {
    float acc[12];
    for (int i = 0; i < 12; i++) acc[i] = 0.001f * (float)i;
    for (long n = 0; n < loops; n++) {
        for (int i = 0; i < 12; i++) acc[i] = __builtin_fmaf(acc[i], 0.9999f, 1e-4f);
        __asm__ volatile("" : "+m"(acc));
    }
    double total = 0;
    for (int i = 0; i < 12; i++) total += acc[i];
    return total;
}

int fusion_probe_fma_lanes(void) {
#ifdef FUSION_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
#endif
    return 1;
}

double fusion_probe_fma(long loops) {
#ifdef FUSION_X86
    switch (fusion_probe_fma_lanes()) {
    case 16: return fma_avx512(loops);
    case 8: return fma_avx2(loops);
    default: break;
    }
#endif
    return fma_scalar(loops);
}
