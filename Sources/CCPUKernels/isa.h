// The vector ISA the kernels take on this CPU, chosen once at run time: every kernel's
// source is compiled for the baseline, for AVX2+FMA and for AVX-512 (F, BW, DQ, VL), so one
// binary runs on any x86-64 (and elsewhere, generic only) and uses the widest it can.
#ifndef FK_ISA_H
#define FK_ISA_H

#include "cpu_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FK_X86 1
#define FK_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FK_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#endif

/// The level in use: what the CPU has, capped by `fk_cpu_kernels_limit_isa`.
int fk_isa_level(void);

/// Defines the public kernel `void name(ARGS)`: `narrow(CALL)` compiled for the baseline
/// and for AVX2+FMA, `wide(CALL)` for AVX-512, the one to run chosen by `fk_isa_level()`.
/// ARGS and CALL are macros of the parameter list and of the same names as arguments;
/// `narrow` and `wide` are functions or function-like macros taking CALL (the widths of a
/// kernel's register blocks usually differ between them).
#ifdef FK_X86
#define FK_DEFINE_ISA_KERNEL(name, ARGS, CALL, narrow, wide) \
    static void name##_generic(ARGS) { narrow(CALL); } \
    FK_TARGET_AVX2 static void name##_avx2(ARGS) { narrow(CALL); } \
    FK_TARGET_AVX512 static void name##_avx512(ARGS) { wide(CALL); } \
    void name(ARGS) { \
        switch (fk_isa_level()) { \
        case FK_ISA_AVX512: name##_avx512(CALL); return; \
        case FK_ISA_AVX2: name##_avx2(CALL); return; \
        default: name##_generic(CALL); return; \
        } \
    }
#else
#define FK_DEFINE_ISA_KERNEL(name, ARGS, CALL, narrow, wide) \
    void name(ARGS) { narrow(CALL); }
#endif

#endif
