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

#endif
