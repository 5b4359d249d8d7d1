#ifndef FUSIONKIT_CPU_PROBE_H
#define FUSIONKIT_CPU_PROBE_H

#ifdef __cplusplus
extern "C" {
#endif

/// Widest vector FMA this CPU runs: 16 (AVX-512F), 8 (AVX2 + FMA) or 1 (scalar fallback).
int fusion_probe_fma_lanes(void);

/// Runs `loops` rounds of 12 independent vector FMA chains at `fusion_probe_fma_lanes()`
/// lanes on the calling thread: loops * 12 * lanes * 2 FLOP. Returns a checksum so the work
/// is not optimised away.
double fusion_probe_fma(long loops);

#ifdef __cplusplus
}
#endif

#endif
